"""Relevance feedback from a channel: the "Not relevant" button under alerts, the one-click
exclusions it offers, and `/policy missed URL-or-words` for a story the bot should have
flagged.

Feedback is stored with the story, who, when and where (PolicyBot.report_*), listed and
exported by `policybot feedback list|export`; it never changes the classifier.

After "Not relevant", when subscriptions of this channel would post that story, the reply
offers buttons (`Reply.actions`) that run the button-only `exclude` command: "Exclude source
FEED" adds the feed that brought the story to those subscriptions' `exclude_feeds`, "Exclude
keyword WORD" adds a word of the story to their `exclude` (PolicyBot.exclusion_offers and
exclude_from_channel; the word is chosen by bot.core.exclusions.choose_keyword). Only this
channel's own subscriptions change; the caller needs the rights of `subscribe`. A second click
changes nothing and says so; each answer carries the button that undoes it, and "Not relevant"
clicked again on the alert offers "Allow ... again" for what is excluded already.
"""

from __future__ import annotations

from bot.commands.args import bool_arg, destination_key, int_arg, require_admin, str_arg
from bot.commands.context import CommandContext
from bot.commands.spec import EXCLUDE_COMMAND, NOT_RELEVANT_COMMAND
from bot.commands.types import Action, Caller, Reply, Request
from bot.errors import InputError
from bot.types import ExclusionInfo, ExclusionKind

__all__ = ["EXCLUDE_COMMAND", "NOT_RELEVANT_COMMAND", "cmd_exclude", "cmd_missed"]


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


def _what(info: ExclusionInfo) -> str:
    if info.kind == ExclusionKind.SOURCE:
        return f"stories from the feed {_quoted(info.value)}"
    return f"stories holding the word {_quoted(info.value)}"


def _ids(ids: tuple[int, ...]) -> str:
    return f"subscription{'s' if len(ids) > 1 else ''} {', '.join(str(i) for i in ids)}"


def _button(info: ExclusionInfo, *, undo: bool, label: str | None = None) -> Action:
    what = "source" if info.kind == ExclusionKind.SOURCE else "keyword"
    if label is None:
        label = f"{'Allow' if undo else 'Exclude'} {what} {info.value}" + (" again" if undo else "")
    args: dict[str, object] = {"story": info.story_id, "by": info.kind}
    if undo:
        args["undo"] = True
    return Action(label=label, command=EXCLUDE_COMMAND, args=args, primary=not undo)


def _config_note(info: ExclusionInfo) -> str:
    key = "exclude_feeds" if info.kind == ExclusionKind.SOURCE else "exclude"
    return (
        f" ({_ids(info.config)} of the config file: the operator adds `{key}` there.)"
        if info.config
        else ""
    )


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
    c = req.caller
    offers = (
        await ctx.call(
            ctx.bot.exclusion_offers,
            story_id,
            platform=c.platform,
            scope=c.scope,
            channel=c.channel,
        )
        if c.channel
        else []
    )
    actions: list[Action] = []
    lines: list[str] = []
    for o in offers:
        if o.subscriptions:
            actions.append(_button(o, undo=o.done))
            state = "leave out" if o.done else "would leave out"
            lines.append(f"{_ids(o.subscriptions)} {state} {_what(o)}.{_config_note(o)}")
        else:
            lines.append(f"To leave out {_what(o)}:{_config_note(o)}")
    if actions:
        text += (
            "\nStop stories like this in this channel only (admins; one click, undone the"
            " same way):\n" + "\n".join(lines)
        )
    elif lines:
        text += "\n" + "\n".join(lines)
    return Reply(title="Not relevant", text=text, actions=tuple(actions))


async def cmd_exclude(req: Request, ctx: CommandContext) -> Reply:
    """The button-only `exclude`: args story, by (source|keyword), undo."""
    require_admin(req.caller, "change this channel's subscriptions")
    story_id = int_arg(req.args, "story", 0, 1, 2**63 - 1)
    by = str_arg(req.args, "by", 20) or ""
    if not story_id or not by:
        raise InputError("this button names no exclusion: click Not relevant on the alert again")
    undo = bool_arg(req.args, "undo")
    platform, scope, channel = destination_key(req)
    info = await ctx.call(
        ctx.bot.exclude_from_channel,
        story_id,
        by,
        platform=platform,
        scope=scope,
        channel=channel,
        undo=undo,
    )
    what = _what(info)
    if undo:
        if info.changed:
            text = f"Undone: {_ids(info.changed)} of this channel post {what} again."
        else:
            text = f"Not excluded: no subscription of this channel leaves out {what}."
        actions = (_button(info, undo=False),)
    else:
        if info.changed:
            text = f"Done: {_ids(info.changed)} of this channel now leave out {what}."
        else:
            text = f"Already excluded: {_ids(info.subscriptions)} leave out {what} already."
        text += (
            " To undo: the Undo button, or Not relevant on the alert again. `/policy"
            " subscriptions` lists it under excluded."
        )
        actions = (_button(info, undo=True, label="Undo"),)
    text += _config_note(info)
    return Reply(title="Exclude", text=text, actions=actions)


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
