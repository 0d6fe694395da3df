"""Slack pings, threads and follow-ups: payloads as the senders take them.

A ping is the subscription's user group, `<!subteam^ID>`, written here in our own text and
blocks; feed text stays escaped by slack_text, so `<!channel>` or `<!subteam^x>` in a title
is shown, never live. A thread is the message itself (its ts is the thread's parent).
"""

from __future__ import annotations

from typing import Any

from bot.deliver.ports import PLACEMENT_KEY
from bot.platforms.render import title_of
from bot.platforms.text import inline, period, safe_link, slack_plain, slack_text, truncate
from bot.types import Digest, Placement, Source, StoryPost

TEXT = 1000


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def slack_place(payload: dict[str, Any], placement: Placement) -> dict[str, Any]:
    """The payload with the user group mentioned first and the placement for the sender."""
    out = dict(payload)
    if placement.mention:
        ping = f"<!subteam^{placement.mention}>"
        out["text"] = f"{ping} {out.get('text') or ''}".strip()
        ping_block = {"type": "context", "elements": [_mrkdwn(ping)]}
        if out.get("blocks"):
            out["blocks"] = [ping_block, *out["blocks"]]
    out[PLACEMENT_KEY] = placement
    return out


def slack_digest_header(digest: Digest) -> dict[str, Any]:
    """A digest's parent message when its stories go into the thread."""
    title = inline(digest.title) or "AI governance digest"
    n = len(digest.stories)
    when = period(digest.period_start, digest.period_end)
    line = f"{when} · {n} {'story' if n == 1 else 'stories'} in the thread"
    return {
        "text": truncate(slack_text(f"{title} · {line}"), TEXT),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": truncate(slack_plain(title), 150)},
            },
            {"type": "context", "elements": [_mrkdwn(truncate(slack_text(line), 300))]},
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def slack_followup(post: StoryPost, source: Source) -> list[dict[str, Any]]:
    """One more source of a story, for its thread."""
    name = slack_text(inline(source.name) or "another source")
    url = safe_link(source.url)
    shown = f"<{url}|{name}>" if url else name
    title = truncate(slack_text(title_of(post)), 300)
    text = f"Also reported by {shown}: {title}"
    return [
        {
            "text": truncate(text, TEXT),
            "blocks": [{"type": "section", "text": _mrkdwn(truncate(text, 2900))}],
            "unfurl_links": False,
            "unfurl_media": False,
        }
    ]
