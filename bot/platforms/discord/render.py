"""Discord message payloads (JSON exactly as POST /channels/{id}/messages or a webhook takes
it) for alerts and digests. Pure functions; no discord.py here.

Feed text goes through discord_escape (no mention, masked link, autolink, code block, heading
or list can come from a feed); the only links are our own safe_link() URLs. Every limit of
Discord (discord/limits.py) is enforced here, by truncating and by splitting digests into messages.
"""

from __future__ import annotations

from typing import Any

from bot.platforms.discord.limits import (
    DISCORD_CONTENT,
    DISCORD_DESCRIPTION,
    DISCORD_EMBEDS,
    DISCORD_FIELD_VALUE,
    DISCORD_FOOTER,
    DISCORD_MESSAGE_TOTAL,
    DISCORD_TITLE,
)
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
from bot.platforms.text import (
    DEFAULT_COLOUR,
    as_utc,
    discord_escape,
    discord_plain,
    inline,
    period,
    platform_len,
    safe_link,
    topic_colour,
    truncate,
)
from bot.types import Digest, StoryPost

NO_MENTIONS: dict[str, list[str]] = {"parse": []}
ALERT_SUMMARY = 700  # "short summary": the story is one click away
KICKER = 300
DIGEST_TITLE = 160  # a story's title in a digest line
DIGEST_LINK_URL = 400  # longer URLs are not linked in digests: they would eat the budget
DIGEST_EXTRAS = 160


def _masked(label: str, url: str | None) -> str:
    """[label](url) for our own safe URL; the label is already escaped, so it cannot close
    the brackets early."""
    return f"[{label}]({url})" if url else label


def _source_list(post: StoryPost, limit: int, shown: int) -> str:
    items = []
    for name, url in source_items(post):
        label = discord_escape(name)
        linked = _masked(label, url)
        # A link longer than a third of the room would crowd out the others: name only.
        items.append(linked if platform_len(linked) <= limit // 3 else label)
    return fit_list(items, limit, shown=shown)


def _field(name: str, values: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "value": fit_list([discord_escape(v) for v in values], DISCORD_FIELD_VALUE),
        "inline": True,
    }


def discord_alert(post: StoryPost) -> dict[str, Any]:
    """One story as one message: an embed with the linked title, a short summary, tags,
    sources and the published date."""
    embed: dict[str, Any] = {
        "title": truncate(discord_escape(title_of(post)), DISCORD_TITLE),
        "color": topic_colour(tuple(inline(t) for t in post.topics)),
        "timestamp": as_utc(post.published).isoformat(),
    }
    url = safe_link(post.url)
    if url:
        embed["url"] = url
    summary = inline(post.summary)
    if summary:
        embed["description"] = truncate(discord_escape(summary), ALERT_SUMMARY)
    fields = []
    js = jurisdiction_labels(post.jurisdictions)
    if js:
        fields.append(_field("Jurisdictions" if len(js) > 1 else "Jurisdiction", js))
    ts = topic_labels(post.topics)
    if ts:
        fields.append(_field("Topics" if len(ts) > 1 else "Topic", ts))
    ins = instrument_labels(post.instruments)
    if ins:
        fields.append(_field("Instruments" if len(ins) > 1 else "Instrument", ins))
    if post.sources:
        fields.append(
            {
                "name": "Sources" if len(post.sources) > 1 else "Source",
                "value": _source_list(post, DISCORD_FIELD_VALUE, MAX_SOURCES_SHOWN),
                "inline": False,
            }
        )
    if fields:
        embed["fields"] = fields
    embed["footer"] = {
        "text": truncate(discord_plain(f"policybot · story {post.story_id}"), DISCORD_FOOTER)
    }
    tags = kicker(post)
    content = truncate(discord_escape(tags), KICKER) if tags else "New AI-governance story"
    return {"content": content, "embeds": [embed], "allowed_mentions": dict(NO_MENTIONS)}


# -- digests ----------------------------------------------------------------------------------


def _digest_line(post: StoryPost, primary: str) -> str:
    """• [Title](url) — Source, Source +2 · also 🇺🇸 US · EU AI Act"""
    title = truncate(discord_escape(title_of(post)), DIGEST_TITLE)
    url = safe_link(post.url)
    line = "• " + _masked(title, url if url and len(url) <= DIGEST_LINK_URL else None)
    extras = []
    if post.sources:
        extras.append(_source_list(post, DIGEST_EXTRAS, DIGEST_SOURCES_SHOWN))
    others = [j for j in jurisdiction_labels(post.jurisdictions)[1:] if j != primary]
    if others:
        extras.append(truncate(discord_escape("also " + ", ".join(others)), DIGEST_EXTRAS))
    ins = instrument_labels(post.instruments)
    if ins:
        extras.append(truncate(discord_escape(", ".join(ins[:2])), DIGEST_EXTRAS))
    if extras:
        line += " — " + " · ".join(extras)
    return line


class _Packer:
    """Fills embeds (description <= 4096) and messages (<= 10 embeds, <= 6000 characters),
    repeating the jurisdiction and topic headings, marked "continued", after every split."""

    def __init__(self) -> None:
        self.messages: list[list[dict[str, Any]]] = [[]]
        self.total = 0  # characters of the current message's embeds
        self.title = ""
        self.lines: list[str] = []
        self.size = 0  # characters of the current description

    def _close(self) -> None:
        if self.lines:  # an embed left without lines is dropped (its title no longer counts)
            self.messages[-1].append(
                {"title": self.title, "color": DEFAULT_COLOUR, "description": "\n".join(self.lines)}
            )
        else:
            self.total -= platform_len(self.title)
        self.title, self.lines, self.size = "", [], 0

    def open(self, title: str, *, new_message: bool = False) -> None:
        self._close()
        t = truncate(title, DISCORD_TITLE)
        if self.messages[-1] and (
            new_message
            or len(self.messages[-1]) >= DISCORD_EMBEDS
            or self.total + platform_len(t) > DISCORD_MESSAGE_TOTAL
        ):
            self.messages.append([])
            self.total = 0
        self.title = t
        self.total += platform_len(t)

    def fits(self, piece: str) -> bool:
        n = platform_len(piece) + (1 if self.lines else 0)
        return self.size + n <= DISCORD_DESCRIPTION and self.total + n <= DISCORD_MESSAGE_TOTAL

    def add(self, piece: str) -> None:
        n = platform_len(piece) + (1 if self.lines else 0)
        self.lines.append(piece)
        self.size += n
        self.total += n

    def finish(self) -> list[list[dict[str, Any]]]:
        self._close()
        return [m for m in self.messages if m]


def _pack_group(packer: _Packer, g: JurisdictionGroup) -> None:
    jtitle = discord_escape(counted(g.label, g.count))
    jcont = discord_escape(counted(g.label, g.count, continued=True))
    packer.open(jtitle)
    for ti, tg in enumerate(g.topics):
        heading = f"**{discord_escape(counted(tg.label, len(tg.stories)))}**"
        cont = f"**{discord_escape(counted(tg.label, len(tg.stories), continued=True))}**"
        for si, post in enumerate(tg.stories):
            line = _digest_line(post, g.label)
            # A blank line before every topic heading but the embed's first line.
            lead = "\n" if ti and packer.lines else ""
            piece = f"{lead}{heading}\n{line}" if si == 0 else line
            if not packer.fits(piece):
                if packer.lines:  # this embed is full: continue in the next one
                    packer.open(jcont)
                    piece = f"{heading if si == 0 else cont}\n{line}"
                if not packer.fits(piece):  # and this message too
                    packer.open(packer.title, new_message=True)
            packer.add(piece)


def discord_digest(digest: Digest) -> list[dict[str, Any]]:
    """The digest as Discord messages: one embed per jurisdiction (split when long), topics
    with counts inside it, split over as many messages as the limits require ("part 2/3")."""
    groups = group_digest(digest)
    head = truncate(discord_escape(inline(digest.title) or "AI governance digest"), 200)
    when = period(digest.period_start, digest.period_end)
    if not groups:
        content = f"**{head}** · {when}: no new items."
        return [
            {
                "content": truncate(content, DISCORD_CONTENT),
                "embeds": [],
                "allowed_mentions": dict(NO_MENTIONS),
            }
        ]
    packer = _Packer()
    for g in groups:
        _pack_group(packer, g)
    parts = packer.finish()
    out = []
    for i, embeds in enumerate(parts):
        suffix = part_suffix(i, len(parts))
        if i == 0:
            content = f"**{head}** · {when} · {digest_summary(groups)}{suffix}"
        else:
            content = f"**{head}**{suffix}"
        out.append({"content": content, "embeds": embeds, "allowed_mentions": dict(NO_MENTIONS)})
    return out
