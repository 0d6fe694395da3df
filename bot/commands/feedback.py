"""Relevance feedback from a channel: the "Not relevant" button under alerts, and
`/policy missed URL-or-words` for a story the bot should have flagged.

Both are stored with the story, who, when and where (PolicyBot.report_*), listed and exported
by `policybot feedback list|export`; neither changes the classifier.

`EXCLUSION_OFFERS` is the hook for offering the channel an exclusion in one click after a
"Not relevant" (its source, or a keyword): when per-subscription exclusions exist, a function
(feedback, caller) -> offers is registered there, and the adapters show each offer as a
button that runs the command in it (the caller's rights are checked by that command).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.commands.args import int_arg, str_arg
from bot.commands.context import CommandContext
from bot.commands.types import Caller, Reply, Request
from bot.errors import InputError
from bot.types import FeedbackInfo

NOT_RELEVANT_COMMAND = "not-relevant"  # a button's command, not one people type


@dataclass(frozen=True, slots=True)
class ExclusionOffer:
    """One exclusion a channel may add in one click: a label and the command it runs."""

    label: str  # "Exclude source Example News"
    command: str  # e.g. "subscribe"
    args: dict[str, Any] = field(default_factory=dict)


ExclusionHook = Callable[[FeedbackInfo, Caller], list[ExclusionOffer]]
EXCLUSION_OFFERS: list[ExclusionHook] = []


def _where(caller: Caller) -> dict[str, str]:
    return {
        "platform": caller.platform,
        "scope": caller.scope,
        "channel": caller.channel,
        "user": caller.user_id,
    }


def _quoted(title: str) -> str:
    t = " ".join(title.split())
    return f"“{t[:150]}{'…' if len(t) > 150 else ''}”"


async def cmd_not_relevant(req: Request, ctx: CommandContext) -> Reply:
    story_id = int_arg(req.args, "story", 0, 1, 2**63 - 1)
    if not story_id:
        raise InputError("this button names no story: use `/policy why` with the story's id")
    info = await ctx.call(ctx.bot.report_not_relevant, story_id, **_where(req.caller))
    lead = "Noted" if info.created else "Already noted"
    text = (
        f"{lead}: story {story_id} {_quoted(info.title)} marked not relevant. The operator"
        " reviews such feedback (`policybot feedback export`); the classifier does not change"
        " by itself."
    )
    offers = [o for hook in EXCLUSION_OFFERS for o in hook(info, req.caller)]
    if offers:
        text += "\nTo stop similar posts here: " + "; ".join(o.label for o in offers)
    return Reply(title="Not relevant", text=text)


async def cmd_missed(req: Request, ctx: CommandContext) -> Reply:
    item = str_arg(req.args, "item", 2000)
    if not item:
        raise InputError(
            "say which story: `/policy missed https://...` (its link), its id, or words of"
            " its headline"
        )
    info = await ctx.call(ctx.bot.report_missed, item, **_where(req.caller))
    if info.story_id is None:
        what = f"your report {_quoted(info.title)} (no stored story matched: kept as words)"
    else:
        what = f"story {info.story_id} {_quoted(info.title)}"
    lead = "Noted" if info.created else "Already noted"
    return Reply(
        title="Missed story",
        text=f"{lead}: {what} should have been flagged. The operator reviews such reports"
        " (`policybot feedback export`); the classifier does not change by itself.",
    )
