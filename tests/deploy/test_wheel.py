"""A wheel built from this tree runs on its own, with no checkout beside it.

The tree is copied (without local build output), packed as an sdist and built into a wheel
from that sdist, the way `python -m build` does; the wheel is installed into a fresh virtual
environment and `policybot run --sample --once` runs there. No network is used: the build
runs without isolation (setuptools comes from the [test] extra) and the new environment
borrows this one's installed dependencies through a .pth file, which Python adds to sys.path
without running the .pth files it holds (so this checkout's editable install stays out).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(110)]

# What an sdist is made from (MANIFEST.in and pyproject.toml say the rest).
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "LICENSE",
    "feeds.yaml",
    ".env.example",
    "bot",
    "migrations",
)
LOCAL_OUTPUT = ("__pycache__", "*.pyc", "*.so", "native.json", "*.egg-info")
# Variables that would point the run somewhere else, or at a chat platform.
FOREIGN_ENV = (
    "DATABASE_URL",
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "PYTHONPATH",
)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI installs the [test] extra, so it must be there")
    pytest.skip(reason)


def _major_minor(dist: str) -> tuple[int, int] | None:
    try:
        parts = version(dist).split(".")
    except PackageNotFoundError:
        return None
    return int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _check_tools() -> None:
    setuptools = _major_minor("setuptools")
    if setuptools is None or setuptools < (77, 0):
        _skip_or_fail(
            f"setuptools {setuptools or '(none)'} cannot build this project offline: it needs"
            " >=77, from the [test] extra"
        )
    pip = _major_minor("pip")
    if pip is None or pip < (22, 3):
        _skip_or_fail(f"pip {pip or '(none)'} has no --python option (22.3 or newer has)")


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=90, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{out[-4000:]}"
    return out


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("POLICYBOT_") and k not in FOREIGN_ENV
    }
    env.update(extra)
    return env


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(*LOCAL_OUTPUT))
        else:
            shutil.copy2(path, src / name)
    env = _clean_env(POLICYBOT_PURE_PYTHON="1")  # compiling is tested elsewhere, and slow
    hook = "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
    _run([sys.executable, "-c", hook, str(tmp / "sdist")], cwd=src, env=env)
    (sdist,) = (tmp / "sdist").glob("policybot-*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (unpacked,) = (tmp / "unpacked").iterdir()
    wheels = str(tmp / "wheels")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels]
    _run([*pip, *build, str(unpacked)], cwd=tmp, env=env)
    (wheel,) = (tmp / "wheels").glob("policybot-*.whl")
    return wheel


def test_the_wheel_runs_the_sample_without_a_checkout(tmp_path: Path) -> None:
    _check_tools()
    wheel = _build_wheel(tmp_path)

    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(p.name for p in (REPO / "migrations" / "versions").glob("*.py"))
    assert migrations
    expected = {"bot/_migrations/env.py", "bot/_migrations/script.py.mako"}
    expected |= {f"bot/_migrations/versions/{name}" for name in migrations}
    expected |= {f"bot/app/samples/{p.name}" for p in (REPO / "bot/app/samples").iterdir()}
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)
    assert not any(n.endswith("compose.yaml") for n in names), "deployment files stay out"
    assert {"bot/app/starter/feeds.yaml", "bot/app/starter/.env.example"} <= names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
        ).strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_policybot_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python)]
    _run([*pip, "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)

    cwd = tmp_path / "elsewhere"  # no feeds.yaml, no migrations/, no bot/ here
    cwd.mkdir()
    data = tmp_path / "data"
    env = _clean_env(
        POLICYBOT_DATA_DIR=str(data), DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}"
    )
    where = _run(
        [
            str(python),
            "-c",
            "import bot, bot.store.db as d; print(bot.__file__, d.migrations_dir())",
        ],
        cwd=cwd,
        env=env,
    ).split()
    assert Path(where[0]).is_relative_to(site), f"bot imported from {where[0]}, not the wheel"
    assert Path(where[1]) == site / "bot" / "_migrations"

    out = _run([str(venv / "bin" / "policybot"), "run", "--sample", "--once"], cwd=cwd, env=env)
    assert "migrations not found" not in out
    assert "Poll summary" in out and "delivered" in out, out[-2000:]
    assert (data / "sample.db").is_file()
    # A second run finds nothing new to post: the database it migrated is in use.
    again = _run([str(venv / "bin" / "policybot"), "run", "--sample", "--once"], cwd=cwd, env=env)
    assert "delivered 0 message" in again, again[-2000:]
    # pipx install + `policybot init`: the starter files, as the checkout has them.
    _run([str(venv / "bin" / "policybot"), "init"], cwd=cwd, env=env)
    for name in ("feeds.yaml", ".env.example"):
        assert (cwd / name).read_bytes() == (REPO / name).read_bytes()
    checked = _run(
        [str(venv / "bin" / "policybot"), "--feeds", str(cwd / "feeds.yaml"), "feeds", "list"],
        cwd=cwd,
        env=env,
    )
    assert "feeds" in checked
