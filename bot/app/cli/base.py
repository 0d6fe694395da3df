"""The root `policybot` command; each area registers its subcommands from its own module."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="policybot",
    help="Follow AI-governance news from RSS/Atom feeds and post it to Discord, Slack or the"
    " console.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    feeds_path: Path | None = None


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def feeds_path(ctx: typer.Context) -> Path:
    from bot.app.settings import Settings

    state = ctx.find_root().obj
    if isinstance(state, CliState) and state.feeds_path is not None:
        return state.feeds_path
    return Settings().feeds


@app.callback()
def root(
    ctx: typer.Context,
    feeds: Path | None = typer.Option(
        None,
        "--feeds",
        envvar="POLICYBOT_FEEDS",
        help="The feeds/config file. Default: ./feeds.yaml",
        show_default=False,
    ),
) -> None:
    ctx.obj = CliState(feeds_path=feeds)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
