"""Slack chat.postMessage bodies (text + Block Kit blocks) for alerts and digests. Pure
functions; no slack_sdk here.

mrkdwn text goes through slack_text: slack_escape's &, <, > (that stops <!channel>, <@U123>
and <http://evil|click> in feed text), bare URLs and domains broken so Slack cannot link them;
*_~` formatting is tolerated. The only links are our own safe_link() URLs as <url|label>.
plain_text (headers) is shown literally by Slack and only cleaned. Limits (slack/limits.py) are
enforced here; digests are split early, well below the ~13,000 characters of blocks where
Slack starts answering msg_blocks_too_long.
"""

from __future__ import annotations

from typing import Any

from bot.platforms.render import (
    DIGEST_SOURCES_SHOWN,
    MAX_SOURCES_SHOWN,
    JurisdictionGroup,
    counted,
    digest_summary,
    fit_list,
    group_digest,
    instrument_labels,
    jurisdiction_labels,
    kicker,
    part_suffix,
    source_items,
    title_of,
    topic_labels,
)
from bot.platforms.slack.limits import (
    SLACK_BLOCKS,
    SLACK_BLOCKS_JSON,
    SLACK_HEADER,
    SLACK_SECTION,
    blocks_json_len,
)
from bot.platforms.text import (
    as_utc,
    inline,
    period,
    platform_len,
    safe_link,
    slack_plain,
    slack_text,
    truncate,
)
from bot.types import Digest, StoryPost

ALERT_TITLE = 500  # the linked title in the section (the header holds at most 150)
ALERT_SUMMARY = 1500
CONTEXT_ELEMENT = 1000
FALLBACK = 1000  # the notification text: a preview, far under the 40,000 limit
DIGEST_TITLE = 160
DIGEST_LINK_URL = 400
DIGEST_EXTRAS = 160
SECTION_BUDGET = SLACK_SECTION - 100  # room for a heading repeated on a split


def _link(url: str | None, label: str) -> str:
    """<url|label> for our own safe URL (which holds no <, > or |); label already escaped."""
    return f"<{url}|{label}>" if url else label


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": truncate(slack_plain(text), SLACK_HEADER),
            "emoji": True,
        },
    }


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _source_list(post: StoryPost, limit: int, shown: int) -> str:
    items = []
    for name, url in source_items(post):
        label = slack_text(name)
        linked = _link(url, label)
        items.append(linked if platform_len(linked) <= limit // 3 else label)
    return fit_list(items, limit, shown=shown)


def _fallback(post: StoryPost) -> str:
    tags = kicker(post)
    text = title_of(post) + (f" ({tags})" if tags else "")
    return truncate(slack_text(text), FALLBACK)


def slack_alert(post: StoryPost) -> dict[str, Any]:
    """One story: header (title), section (linked title + summary), context (tags, sources,
    date), and an escaped plain fallback in `text` for notifications."""
    title = title_of(post)
    url = safe_link(post.url)
    body = f"*{_link(url, truncate(slack_text(title), ALERT_TITLE))}*"
    summary = inline(post.summary)
    room = min(ALERT_SUMMARY, SLACK_SECTION - platform_len(body) - 1)  # a long URL eats room
    if summary and room > 0:
        body += "\n" + truncate(slack_text(summary), room)
    elements = []
    for labels in (
        jurisdiction_labels(post.jurisdictions),
        topic_labels(post.topics),
        instrument_labels(post.instruments),
    ):
        if labels:
            elements.append(_mrkdwn(fit_list([slack_text(x) for x in labels], CONTEXT_ELEMENT)))
    if post.sources:
        elements.append(_mrkdwn(_source_list(post, CONTEXT_ELEMENT, MAX_SOURCES_SHOWN)))
    elements.append(_mrkdwn(as_utc(post.published).strftime("%Y-%m-%d %H:%M UTC")))
    return {
        "text": _fallback(post),
        "blocks": [
            _header(title),
            {"type": "section", "text": _mrkdwn(body)},
            {"type": "context", "elements": elements},
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


# -- digests ----------------------------------------------------------------------------------


def _digest_line(post: StoryPost, primary: str) -> str:
    """• <url|Title> — Source, Source +2 · also 🇺🇸 US · EU AI Act"""
    title = truncate(slack_text(title_of(post)), DIGEST_TITLE)
    url = safe_link(post.url)
    line = "• " + _link(url if url and len(url) <= DIGEST_LINK_URL else None, title)
    extras = []
    if post.sources:
        extras.append(_source_list(post, DIGEST_EXTRAS, DIGEST_SOURCES_SHOWN))
    others = [j for j in jurisdiction_labels(post.jurisdictions)[1:] if j != primary]
    if others:
        extras.append(truncate(slack_text("also " + ", ".join(others)), DIGEST_EXTRAS))
    ins = instrument_labels(post.instruments)
    if ins:
        extras.append(truncate(slack_text(", ".join(ins[:2])), DIGEST_EXTRAS))
    if extras:
        line += " — " + " · ".join(extras)
    return line


# Each message keeps two blocks and this much JSON free for its title and "part i/n" lines.
_RESERVE_BLOCKS = 2
_RESERVE_JSON = 1500
_MIN_SECTION = 1500  # a jurisdiction header starts a new message unless this much room is left


class _Packer:
    """Fills sections (<= SECTION_BUDGET) and messages (<= 50 blocks, <= 12,000 characters of
    blocks JSON), repeating jurisdiction and topic headings, marked "continued", after a split."""

    def __init__(self) -> None:
        self.messages: list[list[dict[str, Any]]] = [[]]
        self.size = 0  # JSON characters of the current message's blocks
        self.lines: list[str] = []

    def _section(self, lines: list[str]) -> dict[str, Any]:
        return {"type": "section", "text": _mrkdwn("\n".join(lines))}

    def _room(self, block: dict[str, Any], extra: int = 0, extra_json: int = 0) -> bool:
        msg = self.messages[-1]
        return (
            len(msg) + 1 + extra + _RESERVE_BLOCKS <= SLACK_BLOCKS
            and self.size + blocks_json_len([block]) + 1 + extra_json
            <= SLACK_BLOCKS_JSON - _RESERVE_JSON
        )

    def _push(self, block: dict[str, Any]) -> None:
        self.messages[-1].append(block)
        self.size += blocks_json_len([block]) + 1

    def new_message(self) -> None:
        self.flush()
        if self.messages[-1]:
            self.messages.append([])
            self.size = 0

    def flush(self) -> None:
        if self.lines:
            self._push(self._section(self.lines))
            self.lines = []

    def header(self, text: str) -> None:
        """A header that must be followed by at least one section in the same message."""
        self.flush()
        block = _header(text)
        if not self._room(block, extra=1, extra_json=_MIN_SECTION):
            self.new_message()
        self._push(block)

    def has_room_for(self, lines: list[str]) -> bool:
        """Whether a section of these lines still fits in the current message."""
        return self._room(self._section(lines))

    def fits(self, line: str) -> bool:
        lines = [*self.lines, line]
        text = "\n".join(lines)
        return platform_len(text) <= SECTION_BUDGET and self._room(self._section(lines))

    def add(self, line: str) -> None:
        self.lines.append(line)

    def finish(self) -> list[list[dict[str, Any]]]:
        self.flush()
        return [m for m in self.messages if m]


def _pack_group(packer: _Packer, g: JurisdictionGroup) -> None:
    packer.header(counted(g.label, g.count))
    jcont = counted(g.label, g.count, continued=True)
    for tg in g.topics:
        packer.flush()  # a new section per topic
        heading = f"*{slack_text(counted(tg.label, len(tg.stories)))}*"
        cont = f"*{slack_text(counted(tg.label, len(tg.stories), continued=True))}*"
        packer.add(heading)
        for post in tg.stories:
            line = _digest_line(post, g.label)
            if packer.fits(line):
                packer.add(line)
                continue
            # The section is full: close it; a full message also gets its headings again.
            only_heading = packer.lines == [heading]
            if only_heading:
                packer.lines = []
            packer.flush()
            if not packer.has_room_for([cont, line]):
                packer.new_message()
                packer.header(jcont)
            packer.add(heading if only_heading else cont)
            packer.add(line)


def slack_digest(digest: Digest) -> list[dict[str, Any]]:
    """The digest as Slack messages: a header per jurisdiction, a section per topic with
    counts, split over as many messages as the limits require ("part 2/3")."""
    groups = group_digest(digest)
    title = inline(digest.title) or "AI governance digest"
    when = period(digest.period_start, digest.period_end)
    if not groups:
        return [
            {
                "text": truncate(slack_text(f"{title} · {when}: no new items."), FALLBACK),
                "blocks": [
                    _header(title),
                    {
                        "type": "section",
                        "text": _mrkdwn(
                            truncate(slack_text(f"{when}: no new items."), SLACK_SECTION)
                        ),
                    },
                ],
                "unfurl_links": False,
                "unfurl_media": False,
            }
        ]
    packer = _Packer()
    for g in groups:
        _pack_group(packer, g)
    parts = packer.finish()
    out = []
    for i, blocks in enumerate(parts):
        suffix = part_suffix(i, len(parts))
        info = f"{when} · {digest_summary(groups)}{suffix}" if i == 0 else (f"{title}{suffix}")
        head: list[dict[str, Any]] = [
            {"type": "context", "elements": [_mrkdwn(truncate(slack_text(info), 300))]}
        ]
        if i == 0:
            head.insert(0, _header(title))
        out.append(
            {
                "text": truncate(slack_text(f"{title}{suffix}"), FALLBACK),
                "blocks": head + blocks,
                "unfurl_links": False,
                "unfurl_media": False,
            }
        )
    return out
