"""Operator commands: run, poll, feeds, db, config."""

from __future__ import annotations

from bot.app.cli.base import app  # noqa: F401
