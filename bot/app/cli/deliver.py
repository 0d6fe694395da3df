"""`policybot deliver ...`: destinations, their queues and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape

from bot.app.cli.base import app, cli_settings, console, fail, open_bot, relative_time

deliver_app = typer.Typer(help="Delivery: destinations, outbox queues, errors.")
app.add_typer(deliver_app, name="deliver")


@deliver_app.command("status")
def status(ctx: typer.Context) -> None:
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
        if r.disabled_reason:
            state = f"[red]disabled:[/] {escape(r.disabled_reason)}"
        elif r.destination.platform in missing and r.pending:
            state = f"[yellow]waiting: {missing[r.destination.platform]} is not set[/]"
        elif r.last_error:
            when = relative_time(r.last_error_at, now, missing="-")
            state = f"[yellow]last error {when}:[/] {escape(r.last_error)}"
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
