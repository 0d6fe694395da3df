"""The root `policybot` command; each area registers its subcommands from its own module."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

import typer
from rich.console import Console
from rich.markup import escape

from bot.log import on_load

if TYPE_CHECKING:
    from bot.app.settings import Settings

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
# Written to a file or a pipe, output is not wrapped at all: a table row or a message stays on
# one line however long, for grep and scripts. (Rich would wrap at 80 columns.)
NO_WRAP_WIDTH = 1_000_000


def fit_consoles() -> None:
    """Wrap to the terminal when there is one; else no width limit and no soft wrapping.
    Decided per command, when it runs: the streams are those of this invocation."""
    for c in (console, err_console):
        plain = not c.is_terminal
        c.soft_wrap = plain
        if plain:
            c.width = NO_WRAP_WIDTH
        elif c.width == NO_WRAP_WIDTH:  # an earlier command of this process wrote to a pipe
            c.width = None  # type: ignore[assignment]  # (None: ask the terminal again)


@dataclass
class CliState:
    feeds_path: Path | None = None
    sample: bool = False


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error (no traceback) and exit."""
    # The message is plain text: names, URLs and errors may hold "[...]" that rich would
    # otherwise read as markup (and crash on).
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def _state(ctx: typer.Context) -> CliState:
    state = ctx.find_root().obj
    return state if isinstance(state, CliState) else CliState()


def _env_name(settings_cls: Any, loc: tuple[Any, ...]) -> str:
    """The environment variable behind a settings field (what the user has to fix)."""
    name = str(loc[0]) if loc else ""
    field = settings_cls.model_fields.get(name)
    alias = getattr(field, "validation_alias", None)
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    return f"POLICYBOT_{name.upper()}" if name else "environment"


def cli_settings(ctx: typer.Context, sample: bool = False) -> Settings:
    """The environment's settings; with --sample (here or before the command), those of the
    offline sample run (its feeds and its own SQLite file)."""
    from pydantic import ValidationError

    from bot.app.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{_env_name(Settings, e['loc'])}: {e['msg']}" for e in exc.errors())
        fail(f"environment: {problems}")
    if sample or _state(ctx).sample:
        from bot.app.runtime import sample_settings

        settings = sample_settings(settings)
    return settings


def is_sample(ctx: typer.Context) -> bool:
    """Whether this command runs on the bundled sample (global --sample)."""
    return _state(ctx).sample


def feeds_path(ctx: typer.Context, sample: bool = False) -> Path:
    state = _state(ctx)
    if sample or state.sample:
        return cli_settings(ctx, sample).feeds
    if state.feeds_path is not None:
        return state.feeds_path
    return cli_settings(ctx).feeds


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("policybot")
        except PackageNotFoundError:  # a source tree that was never installed
            from bot import __version__ as number
        typer.echo(f"policybot {number}")
        raise typer.Exit()


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
    sample: bool = typer.Option(
        False,
        "--sample",
        help="Work on the bundled offline sample feeds and their own database"
        " (data/sample.db), as `policybot run --sample` does.",
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print policybot's version and exit.",
    ),
) -> None:
    ctx.obj = CliState(feeds_path=feeds, sample=sample)
    fit_consoles()


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def relative_time(
    t: datetime | None, now: datetime, *, upcoming: bool = False, missing: str = "never"
) -> str:
    """'5m ago', 'in 2h'; an upcoming time already past (a poll or retry waiting for the next
    tick) is 'due now', not '1m ago'."""
    if t is None:
        return missing
    secs = (now - t).total_seconds()
    if upcoming and secs >= 0:
        return "due now"
    future = secs < 0
    secs = abs(secs)
    if secs < 90:
        text = f"{int(secs)}s"
    elif secs < 5400:
        text = f"{int(secs // 60)}m"
    elif secs < 172800:
        text = f"{int(secs // 3600)}h"
    else:
        text = f"{int(secs // 86400)}d"
    return f"in {text}" if future else f"{text} ago"


class _StderrNow:
    """sys.stderr as it is when a line is written (a test runner swaps it per command)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def log_to_stderr() -> None:
    """Send the store's log lines (a new database's migration, say) to stderr, as `run` does:
    unconfigured, structlog prints to stdout, which --json readers parse. Set up when the
    first line is logged (bot/log.py): a command that logs nothing never loads structlog."""

    def setup() -> None:
        import structlog

        if not structlog.is_configured():
            stderr = cast("TextIO", _StderrNow())  # it writes and flushes: all a logger does
            structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stderr))

    on_load(setup)


def iso(t: datetime | None) -> str | None:
    """A time for --json output: ISO 8601 in UTC (the database keeps naive UTC times)."""
    if t is None:
        return None
    return (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).isoformat()


def print_json(data: dict[str, Any]) -> None:
    """--json output: one object, as is (never through rich: no markup, no wrapping)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def open_bot(
    ctx: typer.Context,
    *,
    sample: bool = False,
    sync: bool = False,
    classifier: Callable[[], Any] | None = None,
    read_only_ok: bool = False,
) -> Any:
    """The core service on the settings' database (a `bot.core.PolicyBot`); with `sync`, the
    feeds follow the config file first (else the file is not read: commands that only query
    the database start faster and work beside a broken one). `classifier` returns the
    classifier for the commands that need one. Says what is wrong and exits on a bad config
    or an unreachable database (no traceback). `read_only_ok`: a command that only reads opens
    a SQLite file it may not write read-only (then the config file is not synced)."""
    from bot.core import BotOptions, make_bot
    from bot.errors import ReadOnlyDatabase

    settings = cli_settings(ctx, sample)
    log_to_stderr()
    cfg = None
    if sync:
        from bot.app.config import ConfigError, load_config  # pydantic models: only to sync

        try:
            cfg = load_config(feeds_path(ctx, sample))
        except ConfigError as exc:
            fail(str(exc))
    try:
        options = BotOptions(
            database_url=settings.resolved_database_url(), read_only_ok=read_only_ok
        )
        bot = make_bot(options, classifier=classifier)
    except Exception as exc:  # unreachable database, bad URL: say what, no traceback
        fail(f"cannot open the database: {exc}")
    if bot.read_only:
        err_console.print(
            "note: the database is read-only here: showing it as stored"
            + (" (feeds.yaml not applied)" if cfg is not None else ""),
            highlight=False,
        )
    elif cfg is not None:
        try:
            bot.sync_config(cfg.feed_options())
        except ReadOnlyDatabase:
            if not read_only_ok:
                raise
            err_console.print(
                "note: the database is read-only here: showing it as stored (feeds.yaml not"
                " applied)",
                highlight=False,
            )
    return bot
