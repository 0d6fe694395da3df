"""The bundled offline sample feeds: well-formed, dated, and showing what the README promises."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from bot.app.config import SAMPLE_CONFIG, SAMPLE_DIR, load_config
from bot.classify import Classifier
from bot.ingest.dedup import same_story
from bot.ingest.normalise import canonical_url, normalise
from bot.ingest.parse import parse_feed
from bot.ingest.types import Item

# file -> (entries, feed format as feedparser names it, language)
EXPECTED = {
    "policy-en.xml": (8, "rss20", "en"),
    "asia-en.xml": (7, "atom10", "en"),
    "research-en.xml": (4, "rss20", "en"),
    "tech-zh.xml": (4, "rss20", "zh"),
    "politik-de.xml": (4, "atom10", "de"),
    "noticias-es.xml": (4, "rss20", "es"),
}

# DEVELOPERS.md's examples: the first two must be flagged, the last two must not.
MUST_FLAG = (
    "China seeks global AI management alliance as US opts for solo strategy",
    "DeepSeek and Alibaba researchers back China's AI regulatory framework, call for national"
    " AI law",
)
MUST_NOT_FLAG = (
    "Deep Learning Achieves 95% Accuracy in Identifying Microbial Life in Sub-Seafloor Samples",
    "Cornell Tech Secures $7M from NASA and Schmidt Sciences to Modernize arXiv Platform",
)
# The other look-alikes: AI without governance, or governance without AI.
NOT_POLICY_MARKERS = (
    "Acme Robotics unveils",
    "basketball leagues form alliance",
    "consumer data privacy law takes effect",
    "raises $40 million Series B",
    "open-weight text-to-video",
    "monsoon onset",
    "多模态大模型",
    "青训联盟",
    "Videoüberwachung in Schwimmbädern",
    "Allianz für Nachwuchsförderung",
    "levanta 12 millones",
    "asistente de voz",
)

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _items() -> list[tuple[str, Item]]:
    cfg = load_config(SAMPLE_CONFIG)
    out = []
    for f in cfg.feeds:
        url = cfg.resolve_url(f.url)
        parsed = parse_feed(Path(url.removeprefix("file://")).read_bytes(), url=url, now=NOW)
        assert parsed.ok, parsed.error
        for raw in parsed.entries:
            item = normalise(raw, feed_url=url, feed_language=f.language, first_seen=NOW)
            out.append((f.name, item))
    return out


def test_every_sample_file_is_in_the_sample_config() -> None:
    cfg = load_config(SAMPLE_CONFIG)
    used = {Path(cfg.resolve_url(f.url).removeprefix("file://")).name for f in cfg.feeds}
    on_disk = {p.name for p in SAMPLE_DIR.glob("*.xml")}
    assert used == on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_file_parses_cleanly(name: str) -> None:
    count, version, lang = EXPECTED[name]
    data = (SAMPLE_DIR / name).read_bytes()
    d = feedparser.parse(data)
    assert not d.bozo, d.get("bozo_exception")
    assert d.version == version
    assert len(d.entries) == count
    for e in d.entries:
        assert e.get("title") and e.get("link") and e.get("id")
        assert e.get("summary"), f"{name}: {e.title} has no summary"
        when = e.get("published_parsed")
        assert when is not None and when.tm_year == 2026, e.title
    feed_lang = (d.feed.get("language") or "").lower()
    assert feed_lang.startswith(lang)


def test_sample_items_are_dated_in_2026_and_unique() -> None:
    items = _items()
    assert len(items) == sum(c for c, _, _ in EXPECTED.values())
    for _, it in items:
        assert it.published_known and it.published.year == 2026 and it.published <= NOW
    uids = [(feed, it.uid) for feed, it in items]
    assert len(set(uids)) == len(uids)


def test_developers_examples_are_in_the_samples() -> None:
    titles = {it.title for _, it in _items()}
    for t in (*MUST_FLAG, *MUST_NOT_FLAG):
        assert t in titles


def test_one_story_is_reported_by_two_feeds() -> None:
    items = _items()
    pairs = [
        (a, b)
        for a, b in itertools.combinations(items, 2)
        if a[0] != b[0] and same_story(a[1].title, b[1].title)
    ]
    assert len(pairs) == 1, [(a[1].title, b[1].title) for a, b in pairs]
    (_, a), (_, b) = pairs[0]
    assert a.title != b.title  # worded differently...
    assert a.url is not None and a.url == b.url  # ...same article once utm_* is dropped
    assert "utm_" not in a.url
    raw = (SAMPLE_DIR / "policy-en.xml").read_text(encoding="utf-8")
    raw += (SAMPLE_DIR / "asia-en.xml").read_text(encoding="utf-8")
    assert raw.count(a.url + "?utm_") == 2  # the feeds themselves carry different utm tags
    assert canonical_url(a.url) == a.url


def test_hostile_item_is_present_and_neutralised_by_ingest() -> None:
    raw = (SAMPLE_DIR / "policy-en.xml").read_bytes()
    entry = next(e for e in feedparser.parse(raw).entries if "@everyone" in e.title)
    for token in ("@everyone", "<@123>", "<!channel>", "[click](javascript:alert(1))"):
        assert token in entry.title
    assert "<script>" in raw.decode() and "onerror=" in raw.decode()

    hostile = [it for _, it in _items() if "@everyone" in it.title]
    assert len(hostile) == 1
    it = hostile[0]
    assert "javascript:" not in it.title
    for bad in ("<script", "<p>", "<a ", "<img", "onerror", "javascript:", "alert('x')"):
        assert bad not in it.summary
    assert "first fine under the EU AI Act" in it.summary  # the text itself survives


def test_hostile_item_says_it_is_a_safety_demo() -> None:
    # It shows up in the quick start's first output: a reader must see at a glance why a
    # story pings @everyone, in the title (what the console and chat show first) and in the
    # summary, and it stays a real policy story so the demo posts it.
    hostile = [it for _, it in _items() if "@everyone" in it.title]
    assert len(hostile) == 1
    it = hostile[0]
    assert it.title.startswith("Safety demo (policybot shows this item's pings and links inert)")
    assert it.summary.startswith("Safety demonstration, written for this sample:")
    assert "made inert" in it.summary
    assert it.title.endswith("Regulator fines chatbot maker under the EU AI Act")


def test_samples_cover_the_policy_themes() -> None:
    text = " ".join(f"{it.title} {it.summary}" for _, it in _items())
    for theme in (
        "AI Act",
        "标识",
        "executive order",
        "AI Basic Act",
        "AI Security Institute",
        "alliance",
        "export controls",
    ):
        assert theme in text, theme
    for marker in NOT_POLICY_MARKERS:
        assert marker in text, marker


def test_classifier_flags_the_policy_items_and_not_the_lookalikes() -> None:
    clf = Classifier.load()
    cfg = load_config(SAMPLE_CONFIG)
    hints = {f.name: f.jurisdictions for f in cfg.feeds}
    verdicts = {
        it.title: clf.classify(it.title, it.summary, it.language, hints[feed])
        for feed, it in _items()
    }
    for t in MUST_FLAG:
        assert verdicts[t].relevant, t
    for t in MUST_NOT_FLAG:
        assert not verdicts[t].relevant, t
    for title, v in verdicts.items():
        lookalike = title in MUST_NOT_FLAG or any(m in title for m in NOT_POLICY_MARKERS)
        assert v.relevant != lookalike, f"{title}: relevant={v.relevant}, score={v.score:.2f}"
    flagged = [t for t, v in verdicts.items() if v.relevant]
    assert len(flagged) == len(verdicts) - len(NOT_POLICY_MARKERS) - len(MUST_NOT_FLAG)
