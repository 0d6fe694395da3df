"""`policybot feedback ...`: relevance feedback from the channels, listed and exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from bot.app.cli.base import app, console, err_console, fail, iso, open_bot, print_json
from bot.errors import InputError

feedback_app = typer.Typer(
    help="Relevance feedback from the channels: 'Not relevant' clicks and /policy missed."
)
app.add_typer(feedback_app, name="feedback")

SINCE_OPT = typer.Option(None, "--since", help="Only feedback since: 7d, 24h or 2026-11-01.")


def _record(f: Any) -> dict[str, Any]:
    return {
        "id": f.id,
        "kind": f.kind,
        "story_id": f.story_id,
        "title": f.title,
        "url": f.url,
        "language": f.language,
        "platform": f.platform,
        "scope": f.scope or None,
        "channel": f.channel or None,
        "user": f.user or None,
        "created_at": iso(f.created_at),
    }


@feedback_app.command("list")
def feedback_list(
    ctx: typer.Context,
    since: str | None = SINCE_OPT,
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Feedback, newest first: kind (not_relevant or missed), story, who, where, when."""
    from rich.table import Table

    bot = open_bot(ctx)
    try:
        items = bot.feedback(since=since, limit=limit)
    except InputError as exc:
        fail(str(exc))
    finally:
        bot.close()
    if as_json:
        print_json({"feedback": [_record(f) for f in items]})
        return
    if not items:
        console.print("No feedback yet.")
        return
    table = Table(title="Feedback")
    for col in ("id", "kind", "story", "title", "where", "who", "when"):
        table.add_column(col, overflow="fold")
    for f in items:
        where = f"{f.platform} {f.channel}".strip()
        table.add_row(
            str(f.id),
            f.kind,
            str(f.story_id) if f.story_id is not None else "-",
            escape(f.title[:120]),
            escape(where),
            escape(f.user),
            f.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@feedback_app.command("export")
def feedback_export(
    ctx: typer.Context,
    out: Path | None = typer.Argument(None, help="Write here instead of standard output."),
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists."),
    since: str | None = SINCE_OPT,
) -> None:
    """Write the feedback as labelled JSON Lines in the eval sets' format (id, title,
    summary, lang, relevant, jurisdictions, topics): `policybot eval FILE` runs on it."""
    if out is not None and out.exists() and not force:
        fail(f"{out} exists: pass --force to replace it, or choose another file")
    bot = open_bot(ctx)
    try:
        records = bot.feedback_export(since=since)
    except InputError as exc:
        fail(str(exc))
    finally:
        bot.close()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    n = len(records)
    err_console.print(f"wrote {n} labelled item{'s' if n != 1 else ''} to {escape(str(out))}")
