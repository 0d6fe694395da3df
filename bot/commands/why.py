"""`why`: why an item was (or was not) flagged: matched terms, jurisdictions, rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.commands.args import str_arg
from bot.commands.context import CommandContext
from bot.commands.types import Reply, Request, Table
from bot.core.vocab import jurisdiction_names
from bot.errors import InputError

EVIDENCE_COLUMNS = ("rule", "term", "matched text", "field", "supports", "weight")


def _evidence_rows(evidence: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (
            str(e.get("rule", "")),
            str(e.get("term", ""))[:80],
            str(e.get("text", ""))[:80],
            str(e.get("field", "")),
            str(e.get("detail", ""))[:60],
            f"{float(e.get('weight', 0.0)):+.2f}",
        )
        for e in evidence[:25]
    )


async def cmd_why(req: Request, ctx: CommandContext) -> Reply:
    item = str_arg(req.args, "item", 2000)
    if not item:
        raise InputError(
            "say which item: a story id (`/policy why 42`), its URL, or words of its title"
        )
    # Loading the classifier and classifying are CPU work too: all of it off the event loop.
    ex = await ctx.call(ctx.bot.explain, item)
    post = ex.story
    if ex.note == "no verdict":
        return Reply(title="Why", text="This item has no stored verdict.", stories=(post,))

    def codes(v: Sequence[str]) -> str:
        names = jurisdiction_names()
        return ", ".join(f"{names.get(c, c)} ({c})" for c in v) or "none"

    lines = [
        f"{'Flagged' if ex.relevant else 'Not flagged'} with score {ex.score:.2f}."
        + (" (classified just now: nothing stored)" if ex.live else ""),
        f"Jurisdictions: {codes(ex.jurisdictions)}",
        f"Topics: {', '.join(ex.topics) or 'none'}",
        f"Instruments: {', '.join(ex.instruments) or 'none'}",
    ]
    if ex.note:
        lines.append(ex.note)
    if not ex.evidence:
        lines.append("No evidence was recorded for this verdict.")
    table = Table(EVIDENCE_COLUMNS, _evidence_rows(ex.evidence)) if ex.evidence else None
    return Reply(
        title=f"Why story {post.story_id}", text="\n".join(lines), stories=(post,), table=table
    )
