"""`policybot` command line: importing the area modules registers their commands."""

from __future__ import annotations

from bot.app.cli import (  # noqa: F401  (imported for their registrations)
    chat,
    classify,
    core,
    deliver,
    feedback,
    platforms,
)
from bot.app.cli.base import app


def main() -> None:
    app()
