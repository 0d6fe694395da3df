"""`policybot deliver ...`: destinations, their queues and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from bot.app.cli.base import (
    app,
    cli_settings,
    console,
    fail,
    iso,
    open_bot,
    print_json,
    relative_time,
)

if TYPE_CHECKING:
    from bot.deliver.status import DestinationStatus

deliver_app = typer.Typer(help="Delivery: destinations, outbox queues, errors.")
app.add_typer(deliver_app, name="deliver")


def _state(r: DestinationStatus, missing: dict[str, str]) -> str:
    """disabled, waiting (its platform has no token), error (the last try failed) or ok."""
    if r.disabled_reason:
        return "disabled"
    if r.destination.platform in missing and r.pending:
        return "waiting"
    return "error" if r.last_error else "ok"


def _record(r: DestinationStatus, missing: dict[str, str]) -> dict[str, Any]:
    d = r.destination
    state = _state(r, missing)
    return {
        "id": d.id,
        "platform": d.platform,
        "guild": d.guild or None,
        "channel": d.channel or None,
        "webhook_env": d.webhook_env or None,
        "subscriptions": r.subscriptions,
        "pending": r.pending,
        "failed": r.failed,
        "sent": r.sent,
        "state": state,
        "waiting_for": missing[d.platform] if state == "waiting" else None,
        "disabled_reason": r.disabled_reason,
        "last_error": r.last_error,
        "last_error_at": iso(r.last_error_at),
        "last_sent_at": iso(r.last_sent_at),
        "next_attempt_at": iso(r.next_attempt_at),
    }


@deliver_app.command("status")
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (a stable schema: see the README)."
    ),
) -> None:
    """Destinations with their pending and failed counts and last errors."""
    from rich.table import Table

    from bot.deliver.status import PLATFORM_NEEDS

    settings = cli_settings(ctx)
    bot = open_bot(ctx)
    try:
        rows = bot.destinations()
    finally:
        bot.close()
    missing = {
        p: env for p, env in PLATFORM_NEEDS.items() if not getattr(settings, env.lower(), None)
    }
    if as_json:
        print_json({"destinations": [_record(r, missing) for r in rows]})
        return
    if not rows:
        console.print("No destinations yet: add `subscriptions:` to the config file.")
        return
    now = datetime.now(UTC)
    table = Table(title="Delivery")
    for col in ("id", "destination", "subs", "pending", "failed", "sent", "last sent", "state"):
        table.add_column(
            col, justify="right" if col in ("id", "subs", "pending", "failed", "sent") else "left"
        )
    for r in rows:
        kind = _state(r, missing)
        if kind == "disabled":
            state = f"[red]disabled:[/] {escape(r.disabled_reason or '')}"
        elif kind == "waiting":
            state = f"[yellow]waiting: {missing[r.destination.platform]} is not set[/]"
        elif kind == "error":
            when = relative_time(r.last_error_at, now, missing="-")
            state = f"[yellow]last error {when}:[/] {escape(r.last_error or '')}"
        else:
            state = "[green]ok[/]"
        if r.pending and r.next_attempt_at and not r.disabled_reason:
            state += (
                f" (next try {relative_time(r.next_attempt_at, now, upcoming=True, missing='-')})"
            )
        table.add_row(
            str(r.destination.id),
            escape(r.destination.label()),
            str(r.subscriptions),
            str(r.pending),
            f"[red]{r.failed}[/]" if r.failed else "0",
            str(r.sent),
            relative_time(r.last_sent_at, now, missing="-"),
            state,
        )
    console.print(table)
    if any(r.disabled_reason for r in rows):
        console.print(
            "Fix the cause, then `policybot deliver enable ID` to requeue a disabled"
            " destination's messages."
        )


@deliver_app.command("enable")
def enable(
    ctx: typer.Context,
    destination_id: int = typer.Argument(..., help="the id shown by `deliver status`"),
) -> None:
    """Re-enable a disabled destination and requeue the messages parked with it."""
    from bot.errors import NotFoundError

    bot = open_bot(ctx)
    try:
        n = bot.enable_destination(destination_id)
    except NotFoundError:
        fail(f"no destination with id {destination_id}: see `policybot deliver status`")
    finally:
        bot.close()
    console.print(f"Destination {destination_id} enabled; {n} message(s) requeued.")
