"""Console text for alerts and digests: readable, multi-line, plain.

Feed text is cleaned of control characters (a feed must not drive the terminal with escape
sequences) and folded onto one line; URLs are shown only when safe_link accepts them.
"""

from __future__ import annotations

import textwrap

from bot.platforms.render import (
    MAX_SOURCES_SHOWN,
    digest_summary,
    fit_list,
    group_digest,
    instrument_labels,
    jurisdiction_labels,
    source_items,
    title_of,
    topic_labels,
)
from bot.platforms.text import as_utc, inline, period, safe_link, truncate
from bot.types import Digest, StoryPost

WIDTH = 100
SUMMARY = 1200


def _sources(post: StoryPost, shown: int) -> str:
    return fit_list([name for name, _url in source_items(post)], 400, shown=shown)


def _tags(post: StoryPost) -> str:
    parts = [
        ", ".join(jurisdiction_labels(post.jurisdictions)),
        ", ".join(topic_labels(post.topics)),
        ", ".join(instrument_labels(post.instruments)),
    ]
    return truncate(" · ".join(p for p in parts if p), 600)


def console_alert(post: StoryPost) -> str:
    """Title, URL, tags, sources, date and summary, one per line (summary wrapped)."""
    lines = [truncate(title_of(post), 500)]
    url = safe_link(post.url)
    lines.append(url if url else "(no link)")
    tags = _tags(post)
    if tags:
        lines.append(f"Tags: {tags}")
    if post.sources:
        lines.append(f"Sources: {_sources(post, MAX_SOURCES_SHOWN)}")
    lines.append(f"Published: {as_utc(post.published):%Y-%m-%d %H:%M} UTC · story {post.story_id}")
    summary = inline(post.summary)
    if summary:
        lines += textwrap.wrap(
            truncate(summary, SUMMARY), WIDTH, break_long_words=True, break_on_hyphens=False
        ) or [""]
    return "\n".join(lines)


def console_digest(digest: Digest) -> str:
    """Grouped by jurisdiction, then topic, with counts; each story once."""
    groups = group_digest(digest)
    title = truncate(inline(digest.title) or "AI governance digest", 200)
    when = period(digest.period_start, digest.period_end)
    if not groups:
        return f"{title} · {when}: no new items."
    out = [f"{title} · {when} · {digest_summary(groups)}", "=" * min(WIDTH, 60)]
    for g in groups:
        out.append("")
        out.append(f"{g.label} ({g.count})")
        for tg in g.topics:
            out.append(f"  {tg.label} ({len(tg.stories)})")
            for post in tg.stories:
                out.append(f"    • {truncate(title_of(post), 300)}")
                url = safe_link(post.url)
                if url:
                    out.append(f"      {url}")
                extras = []
                if post.sources:
                    extras.append(_sources(post, 3))
                others = jurisdiction_labels(post.jurisdictions)[1:]
                if others:
                    extras.append("also " + ", ".join(others))
                extras.append(f"{as_utc(post.published):%Y-%m-%d}")
                out.append("      " + truncate(" · ".join(extras), 400))
    return "\n".join(out)
