"""The layers of bot/ hold: the import-linter contracts in pyproject.toml, and no cycle.

Fails with the offending import chains, so a change that imports upwards (or makes the CLI,
chat or runtime touch the ORM) is caught in the test run, not in review.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("bot", cache_dir=None)
    cycles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert cycles == []


def test_outward_surfaces_never_import_the_orm() -> None:
    graph = grimp.build_graph("bot", include_external_packages=True, cache_dir=None)
    outward = [
        m for m in graph.modules if m.startswith(("bot.app", "bot.commands", "bot.platforms"))
    ]
    offenders = [
        (m, imported)
        for m in outward
        for imported in graph.find_modules_directly_imported_by(m)
        if imported == "bot.store.models" or imported.startswith("sqlalchemy")
    ]
    assert offenders == []


def test_modules_log_through_bot_log() -> None:
    # structlog (with the rich and pygments it loads) is imported when a line is first logged
    # (bot/log.py), so that commands which log nothing start faster. Only the logging set-up
    # itself imports it.
    graph = grimp.build_graph("bot", include_external_packages=True, cache_dir=None)
    allowed = {"bot.log", "bot.app.logging", "bot.app.cli.base"}
    offenders = sorted(
        m
        for m in graph.modules
        if m not in allowed and "structlog" in graph.find_modules_directly_imported_by(m)
    )
    assert offenders == [], f"use bot.log.get_logger in {offenders}"
