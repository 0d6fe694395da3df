"""Operator commands: run, poll, feeds, db, config.

Imports of the application (config, storage, runtime, rich's tables) happen inside the
commands: `policybot --help` and every other command start without loading them all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from bot.app.cli.base import (
    app,
    cli_settings,
    console,
    err_console,
    fail,
    feeds_path,
    is_sample,
    iso,
    log_to_stderr,
    open_bot,
    print_json,
    relative_time,
)

if TYPE_CHECKING:
    from rich.table import Table

    from bot.app.config import AppConfig
    from bot.app.runtime import Runtime
    from bot.app.settings import Settings
    from bot.deliver.worker import DrainStats
    from bot.store.records import FeedInfo, PollOutcome

feeds_app = typer.Typer(help="List feeds, show their health, import or export OPML.")
db_app = typer.Typer(help="Database schema migrations.")
config_app = typer.Typer(help="Check the configuration.")
app.add_typer(feeds_app, name="feeds")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")


JSON_OPT = typer.Option(False, "--json", help="Print JSON (a stable schema: see the README).")


def _seconds(t: timedelta) -> int | float:
    s = t.total_seconds()
    return int(s) if s.is_integer() else s


def _s(n: int) -> str:
    """The plural ending for a count: "1 feed", "2 feeds"."""
    return "" if n == 1 else "s"


def _settings(ctx: typer.Context, sample: bool = False) -> tuple[Settings, Path]:
    return cli_settings(ctx, sample), feeds_path(ctx, sample)


def _runtime(ctx: typer.Context, sample: bool = False) -> Runtime:
    from bot.app.config import ConfigError
    from bot.app.logging import configure_logging
    from bot.app.runtime import Runtime
    from bot.errors import StorageError

    settings, path = _settings(ctx, sample)
    configure_logging(settings.log_level, settings.log_format)
    try:
        return Runtime.build(settings, path)
    except ConfigError as exc:
        fail(str(exc))
    except StorageError as exc:  # cannot take writes (read-only, disk full): as mid-run, 1
        fail(f"cannot start: {exc}", code=1)
    except Exception as exc:  # database unreachable, bad URL...: say what, not a traceback
        fail(f"cannot start: {exc}")


def _summary_table(outcomes: list[PollOutcome]) -> Table:
    from collections import Counter

    from rich.table import Table

    counts = Counter(o.status for o in outcomes)
    table = Table(title="Poll summary")
    for col in (
        "feeds",
        "ok",
        "unchanged",
        "not modified",
        "failed",
        "new items",
        "new stories",
        "flagged, to post",
        "flagged, stored only",
    ):
        table.add_column(col, justify="right")
    failed = sum(n for s, n in counts.items() if s not in ("ok", "unchanged", "not_modified"))
    table.add_row(
        str(len(outcomes)),
        str(counts.get("ok", 0)),
        str(counts.get("unchanged", 0)),
        str(counts.get("not_modified", 0)),
        str(failed),
        str(sum(o.new_entries for o in outcomes)),
        str(sum(o.new_stories for o in outcomes)),
        str(sum(o.flagged for o in outcomes)),
        str(sum(o.flagged_stored_only for o in outcomes)),
    )
    if any(o.flagged_stored_only for o in outcomes):
        table.caption = (
            "stored only: older than the backfill window (a new feed's back catalogue), so"
            " searchable but not posted"
        )
    return table


@app.command()
def poll(
    ctx: typer.Context,
    once: bool = typer.Option(True, "--once", help="One pass over the feeds, then exit."),
    feed: str | None = typer.Option(None, "--feed", help="Poll only the feed of this name."),
    sample: bool = typer.Option(False, "--sample", help="Use the bundled offline sample feeds."),
    force: bool = typer.Option(
        False, "--force", help="Also poll feeds whose server asked for a pause (429/503)."
    ),
) -> None:
    """Poll every enabled feed once (or one feed), with a progress bar and a summary table.
    Feeds whose server answered 429/503 with Retry-After wait until then unless --force."""
    import asyncio

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from bot.errors import StorageError
    from bot.store.lock import Busy

    rt = _runtime(ctx, sample)
    try:
        rt.acquire_lock()
    except Busy as exc:
        asyncio.run(rt.aclose())
        fail(f"{exc}. Try again when it has finished.")
    feeds = rt.active_feeds(feed)
    if feed is not None and not feeds:
        names = ", ".join(f.name for f in rt.storage.feeds() if f.active) or "none"
        fail(f"no enabled feed named {feed!r}. Enabled feeds: {names}")
    wanted = len(feeds)
    feeds = rt.skip_paused(feeds, force=force)
    if len(feeds) < wanted:
        err_console.print(
            f"{wanted - len(feeds)} feed(s) skipped: their server asked for a pause"
            " (see `policybot feeds status`; --force polls them anyway)",
            highlight=False,
        )

    async def go() -> list[PollOutcome]:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("polling", total=len(feeds))
            rt.on_outcome.append(lambda o: progress.advance(task))
            try:
                return await rt.pipeline.poll_feeds(feeds)
            finally:
                await rt.aclose()

    try:
        outcomes = asyncio.run(go())
    except StorageError as exc:
        fail(str(exc), code=1)
    console.print(_summary_table(outcomes))
    for o in outcomes:
        if o.error:
            console.print(f"[yellow]{escape(o.feed)}[/]: {escape(o.error)}", highlight=False)
    _fail_when_every_feed_failed(outcomes)


def _fail_when_every_feed_failed(outcomes: list[PollOutcome]) -> None:
    """Exit 1 when feeds were polled and none answered: cron and monitors see the outage
    (one dead feed among many is the feed's problem, shown in its line and `feeds status`)."""
    if outcomes and all(o.status not in _ANSWERED for o in outcomes):
        fail(
            f"every feed failed ({len(outcomes)} of {len(outcomes)}): is the network down, or"
            " a proxy or firewall in the way? Nothing was lost; the next run tries again.",
            code=1,
        )


_ANSWERED = ("ok", "unchanged", "not_modified")


@app.command()
def run(
    ctx: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="One full cycle (poll, classify, route, deliver), then exit."
    ),
    sample: bool = typer.Option(
        False, "--sample", help="Run on the bundled offline sample feeds (own SQLite file)."
    ),
) -> None:
    """Run the bot: poll feeds on schedule, flag AI-governance news, post it (Ctrl-C stops)."""
    import asyncio

    from bot.errors import StorageError
    from bot.store.lock import Busy

    rt = _runtime(ctx, sample)
    if once:
        try:
            outcomes, stats = asyncio.run(rt.run_once())
        except Busy as exc:
            # A cron run that overlaps the previous one: not a failure, nothing to do.
            err_console.print(f"skipped: {escape(str(exc))}", highlight=False)
            return
        except StorageError as exc:
            fail(str(exc), code=1)
        if not outcomes:
            console.print(
                "Nothing was due: every feed was polled within its interval (or is waiting"
                " out a failure). `policybot poll` polls them all now.",
                highlight=False,
            )
        else:
            console.print(_summary_table(outcomes))
        console.print(_delivery_line(stats), highlight=False)
        for o in outcomes:
            if o.error:
                console.print(f"[yellow]{escape(o.feed)}[/]: {escape(o.error)}", highlight=False)
        _fail_when_every_feed_failed(outcomes)
        return
    asyncio.run(rt.serve())


def _delivery_line(stats: DrainStats) -> str:
    line = f"delivered {stats.sent} message(s)"
    if stats.parts != stats.sent:
        line += f" in {stats.parts} post(s)"
    waiting = stats.transient
    if waiting:
        line += f"; {waiting} will be retried (`policybot deliver status` shows why)"
    failed = stats.permanent + stats.rejected
    if failed:
        line += f"; {failed} failed (`policybot deliver status`)"
    return line


# -- feeds ---------------------------------------------------------------------------------


def _health_state(f: FeedInfo) -> str:
    """disabled, removed, off, failing, new or ok (the `health` of --json)."""
    if f.disabled_reason:
        return "disabled"
    if not f.in_config:
        return "removed"
    if not f.enabled:
        return "off"
    if f.consecutive_failures:
        return "failing"
    if f.last_success_at is None:
        return "new"
    return "ok"


_HEALTH_STYLE = {"disabled": "red", "failing": "yellow", "ok": "green"}


def _health(f: FeedInfo) -> str:
    state = _health_state(f)
    text = f"failing ×{f.consecutive_failures}" if state == "failing" else state
    return f"[{_HEALTH_STYLE.get(state, 'dim')}]{text}[/]"


def _feed_record(f: FeedInfo, warned: dict[str, datetime] | None = None) -> dict[str, Any]:
    return {
        "id": f.id,
        "name": f.name,
        "url": f.url,
        "health": _health_state(f),
        "enabled": f.enabled,
        "in_config": f.in_config,
        "origin": f.origin,
        "interval_seconds": _seconds(f.interval),
        "entry_count": f.entry_count,
        "consecutive_failures": f.consecutive_failures,
        "last_polled_at": iso(f.last_polled_at),
        "last_success_at": iso(f.last_success_at),
        "next_poll_at": iso(f.next_poll_at) if f.active else None,
        "last_status": f.last_status,
        "last_error": f.last_error,
        "last_error_at": iso(f.last_error_at),
        "disabled_reason": f.disabled_reason,
        "warned_at": iso((warned or {}).get(f.name)),
    }


@feeds_app.command("status")
def feeds_status(
    ctx: typer.Context,
    sample: bool = typer.Option(False, "--sample", help="The sample run's database."),
    as_json: bool = JSON_OPT,
) -> None:
    """Each feed's health: last success, last error, consecutive failures, next poll."""
    from rich.table import Table

    bot = open_bot(ctx, sample=sample, sync=True, read_only_ok=True)
    if as_json:
        try:
            feeds = bot.feeds()
            warned = bot.feed_warnings()
        finally:
            bot.close()
        print_json({"feeds": [_feed_record(f, warned) for f in feeds]})
        return
    now = datetime.now(UTC)
    table = Table(title="Feeds")
    for col in ("name", "health", "last success", "next poll", "entries", "last error"):
        table.add_column(col, overflow="fold")
    warned = bot.feed_warnings()
    for f in bot.feeds():
        error = f.disabled_reason or (f.last_error if f.consecutive_failures else "") or ""
        table.add_row(
            escape(f.name),
            _health(f) + (" (warned in chat)" if f.name in warned else ""),
            relative_time(f.last_success_at, now),
            relative_time(f.next_poll_at, now, upcoming=True) if f.active else "-",
            str(f.entry_count),
            escape(error[:120]),
        )
    bot.close()
    console.print(table)


@feeds_app.command("list")
def feeds_list(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """The feeds in the config file."""
    from rich.table import Table

    from bot.app.config import ConfigError, format_duration, load_config

    path = feeds_path(ctx)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        fail(str(exc))
    if as_json:
        feeds = [
            {
                "name": f.name,
                "url": f.url,
                "language": f.language,
                "jurisdictions": list(f.jurisdictions),
                "interval_seconds": _seconds(cfg.interval_for(f)),
                "enabled": f.enabled,
                "tags": list(f.tags),
            }
            for f in cfg.feeds
        ]
        print_json({"config": str(path), "feeds": feeds})
        return
    table = Table(title=f"{len(cfg.feeds)} feed{_s(len(cfg.feeds))}")
    for col in ("name", "url", "lang", "hints", "interval", "enabled"):
        table.add_column(col, overflow="fold")
    for f in cfg.feeds:
        table.add_row(
            escape(f.name),
            escape(f.url),
            f.language or "",
            ",".join(f.jurisdictions),
            format_duration(cfg.interval_for(f)),
            "yes" if f.enabled else "no",
        )
    console.print(table)


@feeds_app.command("import")
def feeds_import(
    ctx: typer.Context,
    opml: Path = typer.Argument(..., help="An OPML file exported from a feed reader."),
) -> None:
    """Add the feeds of an OPML file to the config file (existing names and URLs are skipped)."""
    from bot.app.config import ConfigError
    from bot.app.opml import add_feeds_to_config_file, import_opml

    if is_sample(ctx):
        fail(
            "the sample feeds ship with policybot and are not changed:"
            " import into your own config (--feeds FILE, default ./feeds.yaml)"
        )
    path = feeds_path(ctx)
    try:
        feeds = import_opml(opml)
        added, skipped = add_feeds_to_config_file(path, feeds)
    except ConfigError as exc:
        fail(str(exc))
    except (OSError, ValueError) as exc:
        fail(f"{opml}: {exc}")
    console.print(
        f"added {len(added)} feed(s) to {escape(str(path))}; skipped {len(skipped)} already there",
        highlight=False,
    )
    for name in added:
        console.print(f"  + {escape(name)}", highlight=False)


@feeds_app.command("export")
def feeds_export(
    ctx: typer.Context,
    out: Path | None = typer.Argument(None, help="Write here instead of standard output."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
) -> None:
    """Write the feed list as OPML 2.0 (for other feed readers)."""
    from bot.app.config import ConfigError, load_config
    from bot.app.opml import export_opml

    path = feeds_path(ctx)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        fail(str(exc))
    text = export_opml(cfg)
    if out is None:
        typer.echo(text)
        return
    if out.exists() and out.resolve() == path.resolve():
        fail(f"{out} is the config file itself: export to another file, e.g. feeds.opml")
    if out.exists() and not force:
        fail(f"{out} exists: pass --force to replace it, or choose another file")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    err_console.print(
        f"wrote {len(cfg.feeds)} feed{_s(len(cfg.feeds))} to {escape(str(out))}", highlight=False
    )


# -- db ------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (the bot also does this at start)."""
    from bot.store.db import current_revision, make_engine, migrate

    settings = cli_settings(ctx)
    url = settings.resolved_database_url()
    log_to_stderr()
    try:
        engine = make_engine(url)
        before = current_revision(engine)
        migrate(engine)
        after = current_revision(engine)
    except Exception as exc:
        fail(f"migration failed: {exc}")
    shown = escape(engine.url.render_as_string(hide_password=True))
    if before == after:
        console.print(f"{shown}: already at {after}", highlight=False)
    else:
        console.print(f"{shown}: {before or 'empty'} -> {after}", highlight=False)


@db_app.command("current")
def db_current(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """Show the schema revision of the database and the newest one available."""
    from bot.store.db import current_revision, head_revision, make_engine

    try:
        engine = make_engine(cli_settings(ctx).resolved_database_url())
        cur, head = current_revision(engine), head_revision(engine)
    except Exception as exc:
        fail(f"cannot read the database: {exc}")
    if as_json:
        print_json(
            {
                "database": engine.url.render_as_string(hide_password=True),
                "current": cur,
                "head": head,
                "up_to_date": cur == head,
            }
        )
        return
    console.print(f"current: {cur or 'empty'}; newest: {head}")


# -- config --------------------------------------------------------------------------------


def _ask_platforms(settings: Any) -> tuple[list[str], list[str]]:
    """Each platform with credentials says whom they belong to: (facts, problems)."""
    import asyncio

    from bot.platforms import PLATFORMS

    creds = {
        "discord_token": _secret(settings.discord_token),
        "slack_bot_token": _secret(settings.slack_bot_token),
        "slack_app_token": _secret(settings.slack_app_token),
    }

    async def ask() -> tuple[list[str], list[str]]:
        facts: list[str] = []
        problems: list[str] = []
        for platform in PLATFORMS.values():
            found, refused = await platform.check_online(creds)
            facts += found
            problems += refused
        return facts, problems

    return asyncio.run(ask())


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _slack_problems(settings: Any) -> list[str]:
    """Slack commands need a way in: an app token (Socket Mode) or a signing secret (HTTP)."""
    if not settings.slack_bot_token:
        return []
    mode = settings.slack_mode
    if mode == "http" and not settings.slack_signing_secret:
        return [
            "POLICYBOT_SLACK_MODE=http needs SLACK_SIGNING_SECRET (from the app's Basic"
            " Information page)"
        ]
    if mode == "socket" and not settings.slack_app_token:
        return [
            "POLICYBOT_SLACK_MODE=socket needs SLACK_APP_TOKEN (xapp-..., an app-level"
            " token with connections:write)"
        ]
    if mode is None and not (settings.slack_app_token or settings.slack_signing_secret):
        return [
            "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor"
            " SLACK_SIGNING_SECRET (HTTP mode): /policy commands would not answer"
        ]
    return []


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    as_json: bool = JSON_OPT,
    online: bool = typer.Option(
        False, "--online", help="Also ask Discord and Slack whom the tokens belong to."
    ),
) -> None:
    """Validate the config file, the environment and the database connection (exit status 1
    when something is wrong)."""
    from bot.app.config import ConfigError, load_config
    from bot.store.db import check_database

    problems: list[str] = []
    path = feeds_path(ctx)
    cfg = None
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        problems.append(str(exc))
    settings = cli_settings(ctx)
    shown, db_problems = check_database(settings.resolved_database_url())
    problems += db_problems
    problems += _slack_problems(settings)
    if cfg is not None:
        try:
            from bot.app.runtime import load_classifier

            load_classifier(cfg)
        except Exception as exc:
            problems.append(f"classifier lexicons: {exc}")
        import os

        needs = {
            "discord": ("DISCORD_TOKEN", settings.discord_token),
            "slack": ("SLACK_BOT_TOKEN", settings.slack_bot_token),
        }
        from bot.platforms import PLATFORMS, platform_for

        creds = {
            "discord_token": _secret(settings.discord_token),
            "slack_bot_token": _secret(settings.slack_bot_token),
            "slack_app_token": _secret(settings.slack_app_token),
        }
        for kind in PLATFORMS.values():
            problems += kind.credential_problems(creds)
        for sub in cfg.subscriptions:
            label = f"subscription {sub.name or sub.destination.platform}"
            env = sub.destination.webhook_env
            if env and not os.environ.get(env):
                problems.append(f"{label}: environment variable {env} is not set")
            elif env:
                why = platform_for(sub.destination.platform).webhook_problem(os.environ[env])
                if why:
                    problems.append(f"{label}: ${env} {why}")
            token = needs.get(sub.destination.platform)
            if token is not None and not token[1]:
                problems.append(
                    f"{label}: posts to {sub.destination.platform} but {token[0]} is not set;"
                    " its messages would wait in the outbox"
                )
    facts: list[str] = []
    if online:
        found, refused = _ask_platforms(settings)
        facts += found
        problems += refused
    platforms = _platforms(settings, cfg) if cfg is not None else []
    if as_json:
        report: dict[str, Any] = {
            "ok": not problems,
            "config": str(path),
            "database": shown,
            "feeds": len(cfg.feeds) if cfg is not None else None,
            "subscriptions": len(cfg.subscriptions) if cfg is not None else None,
            "platforms": platforms,
            "problems": problems,
        }
        if online:
            report["online"] = facts
        print_json(report)
        if problems:
            raise typer.Exit(1)
        return
    for fact in facts:
        console.print(f"[green]✓[/] {escape(fact)}", highlight=False)
    if problems:
        for p in problems:
            err_console.print(f"[red]✗[/] {escape(p)}", highlight=False)
        raise typer.Exit(1)
    assert cfg is not None
    console.print(
        f"[green]✓[/] {escape(str(path))}: {len(cfg.feeds)} feed{_s(len(cfg.feeds))},"
        f" {len(cfg.subscriptions)} subscription{_s(len(cfg.subscriptions))};"
        f" database {escape(shown)};"
        f" posting to {', '.join(platforms)}",
        highlight=False,
    )


def _platforms(settings: Settings, cfg: AppConfig) -> list[str]:
    """Where messages go: chat platforms with a token, webhooks named in the config file; the
    console only when neither (subscriptions made from chat live in the database)."""
    platforms = [
        name
        for name, on in (
            ("discord", settings.discord_token),
            ("slack", settings.slack_bot_token),
        )
        if on
    ]
    for sub in cfg.subscriptions:
        platform = sub.destination.platform
        if platform not in platforms and platform not in ("discord", "slack"):
            platforms.append(platform)
    return platforms or ["console"]


def starter_file(name: str) -> Path:
    """A starter file `init` writes: the copy an installed wheel carries (bot/app/starter),
    else the checkout's own (feeds.yaml and .env.example at the repository's root)."""
    import bot

    package = Path(bot.__file__).resolve().parent
    bundled = package / "app" / "starter" / name
    return bundled if bundled.is_file() else package.parent / name


@app.command()
def init(
    force: bool = typer.Option(False, "--force", help="Replace files that exist already."),
) -> None:
    """Write a starter feeds.yaml and .env.example into the current folder.

    Then: `policybot run --sample --once` to see it work offline, edit feeds.yaml, copy
    .env.example to .env and fill in the tokens, `policybot config check`, `policybot run`.
    """
    written = []
    for name in ("feeds.yaml", ".env.example"):
        target = Path.cwd() / name
        if target.exists() and not force:
            err_console.print(f"{name} exists: left alone (--force replaces it)", highlight=False)
            continue
        source = starter_file(name)
        if not source.is_file():
            fail(f"the starter {name} is missing from this installation ({source})")
        try:
            target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}")
        written.append(name)
    if written:
        console.print(f"wrote {', '.join(written)} in {Path.cwd()}", highlight=False)
    console.print(
        "next: `policybot run --sample --once` (offline demo), then edit feeds.yaml, copy"
        " .env.example to .env with your tokens, `policybot config check`, `policybot run`",
        highlight=False,
    )
