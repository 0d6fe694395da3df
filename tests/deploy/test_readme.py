"""README's quick start, deploy and setup sections agree with the files they describe, and
tests/run.sh picks a Python 3.11 or newer without naming one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
RUN_SH = (REPO / "tests" / "run.sh").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def anchor(title: str) -> str:
    return "#" + re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def test_quick_start_names_no_python_minor_version() -> None:
    quick = section("Quick start")
    block = quick[quick.index("```sh") : quick.index("```", quick.index("```sh") + 3)]
    assert not re.search(r"\bpython3\.\d+ ", block), "the commands must not name python3.N"
    commands = [line for line in block.splitlines()[1:] if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith(".venv/bin/policybot run --sample --once")
    assert commands[1] == "bash tests/run.sh"
    assert "${PYTHON:-python3.11}" not in RUN_SH and "find_python" in RUN_SH


def test_quick_start_version_check_passes_here() -> None:
    quick = section("Quick start")
    m = re.search(r"python3 -c '([^']+)'", quick)
    assert m, "the version check"
    proc = subprocess.run([sys.executable, "-c", m.group(1)], capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


def test_links_and_anchors_resolve() -> None:
    headings = {anchor(h) for h in re.findall(r"^#{2,3} (.+)$", README, re.M)}
    for target in re.findall(r"\]\((#[^)]+)\)", README):
        assert target in headings, f"README links to {target}, which is no heading"
    for target in re.findall(r"\]\(((?:docs|bot)/[^)#]+)\)", README):
        assert (REPO / target).is_file(), target
    for page in ("docs/setup-discord.md", "docs/setup-slack.md"):
        assert f"]({page})" in README


def test_deploy_section_matches_compose_and_the_image() -> None:
    deploy = section("Deploy with Docker Compose")
    compose = (REPO / "compose.yaml").read_text(encoding="utf-8")
    services = yaml.safe_load(compose)["services"]
    assert "cp .env.example .env" in deploy and "docker compose up" in deploy
    assert "--scale bot=2" in deploy and "--scale bot=2" in compose
    assert "POSTGRES_PASSWORD" in deploy
    published = re.search(r"POLICYBOT_HTTP_PUBLISH:-([^}]+)\}", compose)
    assert published
    host, _, ports = published.group(1).rpartition(":")
    assert f"`{host}:{ports.split('-')[0]}`" in deploy and ports in deploy
    metrics = re.search(r"POLICYBOT_METRICS_PORT=(\d+)", (REPO / "Dockerfile").read_text())
    assert metrics and metrics.group(1) in deploy
    assert set(services) == {"db", "bot"} and "`db`" in deploy and "`bot`" in deploy
    for cmd in re.findall(r"uv pip compile (\S+) .*-o (\S+)", deploy):
        assert (REPO / cmd[0]).is_file() and (REPO / cmd[1]).is_file(), cmd
    assert "bot/app/deploy" not in README


def test_every_dependency_has_a_line_in_the_dependencies_table() -> None:
    table = section("Dependencies and why")
    listed: set[str] = set()
    for row in table.splitlines():
        if row.startswith("| ") and not row.startswith("| ---"):
            for name in row.split("|")[1].split(","):
                word = re.split(r"[\s(]", name.strip(), maxsplit=1)[0]
                listed.add(canonicalize_name(word))
    extras = PYPROJECT["project"]["optional-dependencies"]["test"]
    for text in [*PYPROJECT["project"]["dependencies"], *extras]:
        name = canonicalize_name(Requirement(text).name)
        assert name in listed, f"README's dependency table lacks {name}"


# -- tests/run.sh's choice of Python ------------------------------------------------------------


def _fake_python(folder: Path, name: str, exit_code: int) -> None:
    """A stand-in interpreter: exits `exit_code` for the version check, prints a version."""
    path = folder / name
    version = f'[ "$1" = --version ] && {{ echo "Python {name}"; exit 0; }}'
    path.write_text(f"#!/bin/sh\n{version}\nexit {exit_code}\n")
    path.chmod(0o755)


def _find_python(path: str, python: str | None = None) -> subprocess.CompletedProcess[str]:
    function = RUN_SH[
        RUN_SH.index("new_enough()") : RUN_SH.index("\n}\n", RUN_SH.index("find_python()")) + 3
    ]
    env = {"PATH": path}
    if python:
        env["PYTHON"] = python
    bash = shutil.which("bash")
    assert bash
    return subprocess.run(
        [bash, "-c", function + "\nfind_python"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A folder with what find_python needs besides the interpreters."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    folder = tmp_path / "tools"
    folder.mkdir()
    for tool in ("cat",):
        found = shutil.which(tool)
        assert found
        (folder / tool).symlink_to(found)
    return folder


def test_run_sh_picks_the_newest_python_that_runs(tmp_path: Path, tools: Path) -> None:
    bins = tmp_path / "bin"
    bins.mkdir()
    _fake_python(bins, "python3.11", 0)
    _fake_python(bins, "python3.12", 0)
    _fake_python(bins, "python3.13", 127)  # a shim for a version that is not installed
    _fake_python(bins, "python3", 0)
    proc = _find_python(f"{bins}:{tools}")
    assert proc.returncode == 0 and proc.stdout.strip() == "python3.12", proc.stderr


def test_run_sh_falls_back_to_python3_when_new_enough(tmp_path: Path, tools: Path) -> None:
    bins = tmp_path / "bin"
    bins.mkdir()
    _fake_python(bins, "python3", 0)
    proc = _find_python(f"{bins}:{tools}")
    assert proc.stdout.strip() == "python3", proc.stderr


def test_run_sh_says_what_to_install_when_python_is_too_old(tmp_path: Path, tools: Path) -> None:
    bins = tmp_path / "bin"
    bins.mkdir()
    _fake_python(bins, "python3", 1)  # the version check fails: older than 3.11
    proc = _find_python(f"{bins}:{tools}")
    assert proc.returncode != 0 and not proc.stdout.strip()
    assert "needs Python 3.11 or newer" in proc.stderr and "PYTHON=" in proc.stderr
    assert "python3 is Python python3" in proc.stderr  # what it found


def test_run_sh_honours_python_and_refuses_an_old_one(tmp_path: Path, tools: Path) -> None:
    bins = tmp_path / "bin"
    bins.mkdir()
    _fake_python(bins, "python3.12", 0)
    _fake_python(bins, "old", 1)
    _fake_python(bins, "mine", 0)
    assert _find_python(f"{bins}:{tools}", str(bins / "mine")).stdout.strip() == str(bins / "mine")
    proc = _find_python(f"{bins}:{tools}", str(bins / "old"))
    assert proc.returncode != 0 and "is not Python 3.11 or newer" in proc.stderr
