"""The incremental parse: head + unseen entries + tail must give exactly what a full parse gives.

Checked on feedparser's own corpus (../shared/corpora/feedparser), on the benchmark's feeds and
on hostile documents built to fool a textual split; and the fall-back to a full parse must
trigger on every doubtful case.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest import chunks, parse
from bot.ingest.parse import parse_feed
from bot.ingest.types import FeedChunks, ParsedFeed

NOW = datetime(2026, 3, 1, tzinfo=UTC)
URL = "https://news.example/feed.xml"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora" / "feedparser"
_HEADER_RE = re.compile(rb"^Header:[ \t]*([^:\r\n]+):[ \t]*(.*?)[ \t]*\r?$", re.MULTILINE)


def rss(*items: str, head: str = "", encoding: str = "utf-8", between: str = "\n") -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>News</title><link>https://news.example/</link>{head}\n"
        + between.join(items)
        + "\n</channel></rss>"
    ).encode(encoding if encoding != "utf-16" else "utf-8")


def item(n: int, extra: str = "") -> str:
    return (
        f"<item><title>Story {n}</title><link>https://news.example/{n}</link>"
        f"<guid>g{n}</guid><description>Text of story {n}</description>{extra}</item>"
    )


def seen_all_but(
    body: bytes, new: set[int], *, url: str = URL, headers: dict[str, str] | None = None
) -> FeedChunks | None:
    """A `seen` holding every entry of this body but those at `new`, whatever the body is like
    (a poll only remembers clean bodies; the parse must be right for any `seen` at all)."""
    split = chunks.split_entries(body)
    if split is None:
        return None
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    context = chunks.context_of(split, parse._base_url(url, lower), lower)
    hashes = chunks.chunk_hashes(split)
    return FeedChunks(context, frozenset(h for i, h in enumerate(hashes) if i not in new))


def same_feed_fields(a: ParsedFeed, b: ParsedFeed) -> None:
    assert (a.ok, a.title, a.link, a.language, a.error) == (
        b.ok,
        b.title,
        b.link,
        b.language,
        b.error,
    )


def check_equivalent(
    body: bytes,
    *,
    url: str = URL,
    headers: dict[str, str] | None = None,
    rng: random.Random | None = None,
) -> bool:
    """Every way of having seen some entries gives the full parse's other entries.

    Returns whether the incremental path was taken at least once (rather than a fall-back).
    """
    full = parse_feed(body, url=url, headers=headers, now=NOW, track=True)
    plain = parse_feed(body, url=url, headers=headers, now=NOW)
    assert (full.entries, full.error, full.title) == (plain.entries, plain.error, plain.title)
    split = chunks.split_entries(body)
    if split is None:
        assert full.chunks is None
        return False
    n = len(split.entries)
    rng = rng or random.Random(0)
    subsets = [set(), {0}, {n - 1}, set(range(n)), {i for i in range(n) if rng.random() < 0.5}]
    took_fast_path = False
    for new in subsets:
        seen = seen_all_but(body, new, url=url, headers=headers)
        got = parse_feed(body, url=url, headers=headers, now=NOW, seen=seen)
        if got.skipped:
            took_fast_path = True
            # Only ever for a body the full parse maps one entry per element onto.
            assert full.chunks is not None and len(full.entries) == n
            assert got.entries == tuple(e for i, e in enumerate(full.entries) if i in new)
            assert got.skipped == n - len(new)
            same_feed_fields(got, full)
        else:
            assert got == full  # the fall-back is the full parse
        assert got.chunks == full.chunks
    return took_fast_path


# --------------------------------------------------------------------------- the split


def test_split_finds_items_and_keeps_head_and_tail() -> None:
    body = rss(item(1), item(2), item(3))
    split = chunks.split_entries(body)
    assert split is not None and len(split.entries) == 3
    assert split.chunk(1).startswith(b"<item><title>Story 2") and split.chunk(1).endswith(
        b"</item>"
    )
    assert split.without([0, 1, 2]) == body.replace(b"</item>\n<item>", b"</item><item>")
    assert b"<item" not in split.without([])


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("no entries", rss()),
        (
            "entity declarations",
            b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]>'
            + rss(item(1)).split(b"?>", 1)[1],
        ),
        (
            "a DOCTYPE",
            b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
            b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
            + rss(item(1)).split(b"?>", 1)[1],
        ),
        ("nested items", rss("<item><title>a</title>" + item(2) + "</item>")),
        ("an empty item", rss(item(1), "<item/>", item(2))),
        ("text between items", rss(item(1), item(2), between="\nstray\n")),
        ("an element between items", rss(item(1), item(2), between="<title>x</title>")),
        ("a comment between items", rss(item(1), item(2), between="<!-- ad -->")),
        ("items and entries", rss(item(1), "<entry><title>x</title></entry>")),
        ("two prefixes", rss(item(1), item(2).replace("item>", "rss:item>"))),
        ("an unclosed item", rss(item(1), "<item><title>x</title>")),
        ("a stray end tag", rss(item(1), "</item>")),
        (
            "an Atom entry document",
            b'<?xml version="1.0"?><entry xmlns="http://www.w3.org/'
            b'2005/Atom"><title>x</title></entry>',
        ),
    ],
)
def test_doubtful_bodies_are_not_split(why: str, body: bytes) -> None:
    assert chunks.split_entries(body) is None, why


def test_markup_in_comments_cdata_and_attributes_is_not_an_entry() -> None:
    tricky = item(
        2,
        "<description><![CDATA[ </item><item><title>fake</title> ]]></description>"
        "<!-- <item><title>fake</title></item> --><?pi </item> ?>",
    )
    body = rss(item(1), tricky, item(3).replace("<item>", "<item note=\"a>b\" other='/item>'>"))
    split = chunks.split_entries(body)
    assert split is not None and len(split.entries) == 3
    assert check_equivalent(body)


def test_rdf_items_beside_the_channel_and_its_items_list() -> None:
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://rdf.example/"><title>RDF</title><link>https://rdf.example/</link>
<items><rdf:Seq><rdf:li resource="https://rdf.example/1"/></rdf:Seq></items></channel>
<item rdf:about="https://rdf.example/1"><title>One</title><link>https://rdf.example/1</link></item>
<item rdf:about="https://rdf.example/2"><title>Two</title><link>https://rdf.example/2</link></item>
</rdf:RDF>"""
    split = chunks.split_entries(body)
    assert split is not None and len(split.entries) == 2
    assert check_equivalent(body)


def test_atom_with_prefixes_and_xml_base() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<a:feed xmlns:a="http://www.w3.org/2005/Atom" xml:base="https://atom.example/blog/" xml:lang="fr">
<a:title>Blog</a:title><a:id>urn:feed</a:id><a:updated>2026-02-01T00:00:00Z</a:updated>
<a:entry><a:title>Un</a:title><a:id>urn:1</a:id><a:link href="un"/>
<a:updated>2026-02-01T00:00:00Z</a:updated></a:entry>
<a:entry xml:base="/other/" xml:lang="de"><a:title>Zwei</a:title><a:id>urn:2</a:id>
<a:link href="zwei"/><a:updated>2026-02-02T00:00:00Z</a:updated></a:entry>
</a:feed>"""
    assert check_equivalent(body)
    full = parse_feed(body, url=URL, now=NOW)
    assert [e.link for e in full.entries] == [
        "https://atom.example/blog/un",
        "https://atom.example/other/zwei",
    ]


# --------------------------------------------------------------------------- the fall-back


def reduced(body: bytes, new: set[int], headers: dict[str, str] | None = None) -> ParsedFeed:
    seen = seen_all_but(body, new, headers=headers)
    assert seen is not None
    return parse_feed(body, url=URL, headers=headers, now=NOW, seen=seen)


def test_the_usual_poll_parses_only_the_new_item() -> None:
    body = rss(*(item(n) for n in range(50, 0, -1)))
    got = reduced(body, {0})
    assert got.skipped == 49 and [e.title for e in got.entries] == ["Story 50"]
    assert check_equivalent(body)


def test_an_undefined_entity_in_a_seen_item_means_a_full_parse() -> None:
    # The full document is not well-formed, so feedparser would parse it with its loose
    # parser, whose entries can differ: the reduced document (well-formed) must not be used.
    body = rss(item(2), item(1, "<author>A&nbsp;B</author>"))
    got = reduced(body, {0})
    full = parse_feed(body, url=URL, now=NOW)
    assert full.error is not None and got == full
    assert got.skipped == 0


def test_broken_bytes_in_a_seen_item_mean_a_full_parse() -> None:
    # Declared UTF-8 but not: feedparser falls back to another encoding for the whole body.
    body = rss(item(2), item(1).replace("Story 1", "Story \xe9 1")).replace(b"\xc3\xa9", b"\xe9")
    got = reduced(body, {0})
    full = parse_feed(body, url=URL, now=NOW)
    assert full.error is not None and "CharacterEncoding" in full.error
    assert got == full and got.skipped == 0


def test_an_undeclared_prefix_in_a_seen_item_means_a_full_parse() -> None:
    body = rss(item(2), item(1, "<media:thumbnail url='x'/>"))
    got = reduced(body, {0})
    assert got == parse_feed(body, url=URL, now=NOW) and got.skipped == 0


def test_a_changed_context_means_a_full_parse() -> None:
    body = rss(item(2), item(1))
    seen = seen_all_but(body, {0})
    assert seen is not None
    moved = parse_feed(body, url="https://elsewhere.example/feed.xml", now=NOW, seen=seen)
    assert moved.skipped == 0 and len(moved.entries) == 2
    other_type = parse_feed(
        body, url=URL, headers={"Content-Type": "text/xml; charset=latin-1"}, now=NOW, seen=seen
    )
    assert other_type.skipped == 0
    rebased = rss(item(2), item(1)).replace(b"<channel>", b'<channel xml:base="/b/">')
    assert parse_feed(rebased, url=URL, now=NOW, seen=seen).skipped == 0


def test_a_count_that_does_not_agree_means_a_full_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    body = rss(item(3), item(2), item(1))
    seen = seen_all_but(body, {0})
    real = parse._feedparse

    def one_entry_short(doc: bytes, passed: object) -> object:
        result = real(doc, passed)  # type: ignore[arg-type]
        if b"Story 3" in doc and b"Story 2" not in doc:
            result["entries"] = []
        return result

    monkeypatch.setattr(parse, "_feedparse", one_entry_short)
    got = parse_feed(body, url=URL, now=NOW, seen=seen)
    assert got.skipped == 0 and len(got.entries) == 3


def test_encodings_the_scan_cannot_read_mean_full_parses() -> None:
    text = rss(item(2), item(1)).decode()
    utf16 = text.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    assert parse_feed(utf16, url=URL, now=NOW, track=True).chunks is None
    sjis = (
        text.replace('encoding="utf-8"', 'encoding="shift_jis"')
        .replace("Story 1", "ニュース 1")
        .encode("shift_jis")
    )
    assert parse_feed(sjis, url=URL, now=NOW, track=True).chunks is None
    latin = (
        text.replace('encoding="utf-8"', 'encoding="iso-8859-1"')
        .replace("Story 1", "Café 1")
        .encode("latin-1")
    )
    assert check_equivalent(latin)


def test_bodies_served_as_html_still_take_the_fast_path() -> None:
    headers = {"Content-Type": "text/html; charset=utf-8"}
    body = rss(item(2), item(1))
    assert reduced(body, {0}, headers).skipped == 1
    assert check_equivalent(body, headers=headers)


def test_bench_feeds_take_the_fast_path() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from feedserver import FeedSet

    fs = FeedSet(3, 50)
    for i in range(3):
        before = fs.body(i)[0]
        fs.version[i] += 1
        fs._cache.pop(i)
        after = fs.body(i)[0]
        seen = parse_feed(before, url=URL, now=NOW, track=True).chunks
        got = parse_feed(after, url=URL, now=NOW, seen=seen)
        full = parse_feed(after, url=URL, now=NOW)
        assert got.skipped == 49 and got.entries == full.entries[:1]


# --------------------------------------------------------------------------- the corpus


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")


@pytest.mark.shared
def test_corpus_incremental_parses_equal_full_parses() -> None:
    files = _corpus_files()
    if not files:
        pytest.skip(f"{CORPUS} is absent (../shared is only beside the repo in dev and CI)")
    rng = random.Random(7)
    fast = 0
    for path in files:
        body = path.read_bytes()
        headers = {
            m.group(1).decode("latin-1").strip(): m.group(2).decode("latin-1")
            for m in _HEADER_RE.finditer(body[:4096])
        }
        where = "http://127.0.0.1:8097/" + str(path.relative_to(CORPUS))
        try:
            fast += check_equivalent(body, url=where, headers=headers, rng=rng)
        except AssertionError as exc:
            raise AssertionError(f"{path.relative_to(CORPUS)}: {exc}") from exc
    assert fast > 100  # the fast path is really exercised, not just fallen back from


@pytest.mark.parametrize(
    "junk",
    [b"<!--", b"<![CDATA[", b"<?", b'<item a="', b"<item>", b"</item>", b"<a", b"<itemx "],
)
def test_the_scan_is_linear_on_hostile_bodies(junk: bytes) -> None:
    import time

    body = b"<rss><channel>" + junk * (2_000_000 // len(junk))  # ~2 MB of one construct
    started = time.perf_counter()
    assert chunks.split_entries(body) is None
    # Quadratic scanning took minutes here; linear takes a fraction of a second (the bound
    # leaves room for a loaded machine).
    assert time.perf_counter() - started < 15
