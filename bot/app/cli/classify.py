"""CLI commands of this area (registered on the root app in bot.app.cli.base)."""

from __future__ import annotations

from bot.app.cli.base import app  # noqa: F401
