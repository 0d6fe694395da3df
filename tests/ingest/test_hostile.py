"""Hostile feeds cost an entry or a bounded amount of work, never the feed or the process:
entity declarations, bad characters, huge texts, thousands of entries, dense markup."""

from __future__ import annotations

import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest import xmlsafe
from bot.ingest.normalise import normalise
from bot.ingest.parse import (
    MAX_ENTRIES,
    PARSE_BUDGET,
    RAW_SUMMARY_MAX,
    RAW_TITLE_MAX,
    parse_feed,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example/feed.xml"
MiB = 1024 * 1024


def rss(items: bytes, head: bytes = b"", title: bytes = b"Feed") -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\n' + head + b"<rss version='2.0'><channel>"
        b"<title>" + title + b"</title>" + items + b"</channel></rss>"
    )


def item(guid: int, title: bytes, when: datetime | None = None, extra: bytes = b"") -> bytes:
    date = b""
    if when is not None:
        date = b"<pubDate>" + when.strftime("%a, %d %b %Y %H:%M:%S GMT").encode() + b"</pubDate>"
    return (
        b"<item><guid isPermaLink='false'>%d</guid><title>" % guid
        + title
        + b"</title>"
        + date
        + extra
        + b"</item>"
    )


# --- salvage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pair",
    [b"&#55357;&#56832;", b"&#xD83D;&#xDE00;", b"&#xd83d;&#56832;", b"&#00055357;&#x0DE00;"],
    ids=["decimal", "hex", "mixed", "leading-zeros"],
)
def test_a_surrogate_pair_written_as_two_references_becomes_the_character(pair: bytes) -> None:
    body = rss(item(1, b"smile " + pair + b" now") + item(2, b"next"))
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and p.error is None  # a strict parse: the document became well-formed
    assert [e.title for e in p.entries] == ["smile \U0001f600 now", "next"]


@pytest.mark.parametrize(
    "bad",
    [
        b"&#xD800;",
        b"&#55296;",
        b"&#xDE00;",  # a low surrogate alone
        b"&#xD83D;&#x41;",  # a high surrogate before something else
        b"&#0;",
        b"&#x1;",
        b"&#xFFFE;",
        b"&#x110000;",
        b"&#99999999999999999999999999999;",
        b"\x01\x0b",  # raw forbidden characters
        b"\xef\xbf\xbe",  # U+FFFE, raw
    ],
)
def test_a_bad_character_costs_only_itself(bad: bytes) -> None:
    body = rss(item(1, b"first") + item(2, b"bad" + bad + b"one") + item(3, b"third"))
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok, p.error
    titles = [e.title for e in p.entries]
    assert titles[0] == "first" and titles[2] == "third"
    assert titles[1] is not None and titles[1].startswith("bad") and titles[1].endswith("one")
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in titles[1])
    assert "\x01" not in titles[1] and "\ufffe" not in titles[1]


def test_references_in_cdata_are_text_and_left_alone() -> None:
    # In CDATA "&#xD800;" is eight characters of text, not a reference: the XML layer keeps
    # them; HTML decoding later (normalise) is where they would become references.
    body = rss(
        item(1, b"<![CDATA[keep &#xD800; and &#55357;&#56832; as written]]>")
        + item(2, b"outside &#55357;&#56832;")
    )
    prepared = xmlsafe.prepare(body)
    assert b"<![CDATA[keep &#xD800; and &#55357;&#56832; as written]]>" in prepared.data
    assert b"outside &#x1F600;" in prepared.data
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and p.entries[1].title == "outside \U0001f600"
    first = normalise(p.entries[0], feed_url=URL, feed_language="en", first_seen=NOW)
    assert first.title == "keep and \U0001f600 as written"


def test_comments_and_pis_are_not_mistaken_for_cdata() -> None:
    body = rss(item(1, b"<!-- <![CDATA[ -->pair &#55357;&#56832; &#xD800;end"))
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and p.entries[0].title == "pair \U0001f600 end"


def test_prepare_is_linear_on_unterminated_constructs() -> None:
    for unit in (b"<![CDATA[", b"<!--", b"<?", b"&#55357;", b"&#", b"&#x"):
        data = unit * (2 * MiB // len(unit))
        started = time.process_time()
        xmlsafe.prepare(data)
        assert time.process_time() - started < 2, unit


# --- entity declarations -----------------------------------------------------------------------


def quadratic(size: int = 1_000_000, entity: int = 50_000) -> bytes:
    decl = b'<!DOCTYPE rss [<!ENTITY a "' + b"x" * entity + b'">]>\n'
    refs = b"&a;" * ((size - entity) // 3)
    return rss(item(1, b"t &a; t") + item(2, b"second"), head=decl, title=refs)


def test_quadratic_entities_are_neutralised_with_memory_bounded() -> None:
    body = quadratic()
    assert len(body) > 1_000_000
    tracemalloc.start()
    try:
        p = parse_feed(body, url=URL, now=NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Unbounded, this expands to 1 GB of "x" (and several GB of working memory).
    assert p.ok and p.title is None
    assert [e.title for e in p.entries] == ["t  t", "second"]
    assert peak < 40 * MiB, peak


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE rss [<!ENTITY a "' + b"x" * 1000 + b'">]>',  # on one line with the decl
        b'<!-- <a --><!DOCTYPE rss [<!ENTITY a "' + b"x" * 1000 + b'">]>',
        b'<!DOCTYPE rss [<!-- ]> --><!ENTITY a "]>' + b"x" * 1000 + b'">]>',
        b'<!DOCTYPE rss [<!ENTITY b "' + b"x" * 1000 + b'"><!ENTITY a "&b;&b;&b;&b;">]>',
        b"\x00<!DOCTYPE rss [<!ENTITY a '" + b"x" * 1000 + b"'>]>",  # hidden behind a NUL
    ],
    ids=["one-line", "comment-before", "tricky-subset", "nested", "behind-a-control"],
)
def test_no_declared_entity_is_ever_expanded(doctype: bytes) -> None:
    body = (
        b"<?xml version='1.0'?>" + doctype + b"<rss version='2.0'><channel><title>T</title>"
        b"<item><title>" + b"&a;" * 5000 + b"</title><guid>1</guid></item></channel></rss>"
    )
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and len(p.entries) == 1
    assert "xxxxx" not in (p.entries[0].title or "")
    assert len(p.entries[0].title or "") <= RAW_TITLE_MAX


def test_one_character_entities_still_work_and_external_ones_never_load() -> None:
    body = (
        b"<?xml version='1.0'?>"
        b'<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY lt2 "<"><!ENTITY e "\xc3\xa9">'
        b'<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
        b"<rss version='2.0'><channel><title>T&nbsp;1 &lt2; caf&e;</title>"
        b"<item><title>x&ext;y</title><guid>1</guid></item></channel></rss>"
    )
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and p.error is None
    assert p.title == "T 1 < café"
    assert p.entries[0].title == "xy"


def test_the_netscape_doctype_still_names_rss_091() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS'
        b' 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        b"<rss version='0.91'><channel><title>Old</title><item><title>a</title>"
        b"<link>http://x.example/a</link></item></channel></rss>"
    )
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and p.title == "Old" and len(p.entries) == 1


def test_a_utf16_document_gets_the_same_treatment() -> None:
    body = quadratic(size=200_000).decode("utf-8").replace('encoding="utf-8"', 'encoding="utf-16"')
    p = parse_feed(body.encode("utf-16"), url=URL, now=NOW)
    assert p.ok and p.title is None and len(p.entries) == 2


# --- caps --------------------------------------------------------------------------------------


def test_the_entry_cap_keeps_the_newest_entries() -> None:
    dates = [NOW - timedelta(hours=i) for i in range(1000)]
    order = list(range(1000))
    random.Random(7).shuffle(order)
    body = rss(b"".join(item(i, b"entry %d" % i, dates[i]) for i in order))
    p = parse_feed(body, url=URL, now=NOW, max_entries=50)
    assert p.ok and p.dropped == 950
    assert sorted(int(e.guid or "") for e in p.entries) == list(range(50))
    # Document order is kept among those taken.
    assert [e.guid for e in p.entries] == [str(i) for i in order if i < 50]


def test_the_default_cap_and_document_order_without_dates() -> None:
    body = rss(b"".join(item(i, b"entry %d" % i) for i in range(MAX_ENTRIES + 50)))
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and len(p.entries) == MAX_ENTRIES and p.dropped == 50
    assert [e.guid for e in p.entries] == [str(i) for i in range(MAX_ENTRIES)]


def test_the_cap_also_holds_when_the_document_cannot_be_split() -> None:
    # A DOCTYPE makes the byte-level split refuse: the cap is applied after parsing.
    dates = [NOW - timedelta(minutes=i) for i in range(400)]
    items = b"".join(item(i, b"e", dates[i]) for i in reversed(range(400)))
    body = rss(items, head=b"<!DOCTYPE rss>")
    p = parse_feed(body, url=URL, now=NOW, max_entries=10)
    assert p.ok and p.dropped == 390
    assert [e.guid for e in p.entries] == [str(i) for i in reversed(range(10))]


def test_many_entries_oldest_first_are_taken_from_the_end() -> None:
    # Past the number of entries whose dates are read one by one, the document's direction
    # decides.
    n = 25_000
    start = NOW - timedelta(days=30)
    body = rss(
        b"".join(
            b"<item><guid isPermaLink='false'>%d</guid><pubDate>" % i
            + (start + timedelta(minutes=i)).strftime("%a, %d %b %Y %H:%M:%S GMT").encode()
            + b"</pubDate></item>"
            for i in range(n)
        )
    )
    p = parse_feed(body, url=URL, now=NOW, max_entries=20)
    assert p.ok and p.dropped == n - 20
    assert [e.guid for e in p.entries] == [str(i) for i in range(n - 20, n)]


def test_titles_and_summaries_are_cut_before_normalising() -> None:
    big = b"word " * 2_000_000  # 10 MB
    body = rss(item(1, big, extra=b"<description>" + big + b"</description>"), title=big)
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok
    (e,) = p.entries
    assert e.title is not None and len(e.title) <= RAW_TITLE_MAX
    assert e.summary is not None and len(e.summary) <= RAW_SUMMARY_MAX
    assert p.title is not None and len(p.title) <= RAW_TITLE_MAX


# --- parse budget ------------------------------------------------------------------------------


def test_an_entry_too_costly_to_parse_costs_only_that_entry() -> None:
    heavy = b"<b/>" * int(PARSE_BUDGET / xmlsafe.TAG_COST)
    body = rss(item(1, b"before") + item(2, b"heavy" + heavy) + item(3, b"after"))
    started = time.process_time()
    p = parse_feed(body, url=URL, now=NOW)
    assert time.process_time() - started < 5
    assert p.ok and [e.title for e in p.entries] == ["before", "after"] and p.dropped == 1


@pytest.mark.parametrize(
    "filler",
    [b"<b/>", b"&amp;", b"\n", b"<!x>", b"<?x?>", b"<a "],
    ids=["tags", "references", "lines", "declarations", "pis", "open-tags"],
)
def test_dense_markup_outside_entries_is_refused_quickly(filler: bytes) -> None:
    body = rss(b"<item><title>a</title></item>", title=b"T" + filler * (8 * MiB // len(filler)))
    started = time.process_time()
    p = parse_feed(body, url=URL, now=NOW)
    assert time.process_time() - started < 5
    assert not p.ok and p.error is not None
    assert p.error.startswith("refused: the feed outside its entries has too much markup")


def test_a_tag_with_too_many_attributes_is_refused() -> None:
    attrs = b" ".join(b'a%d="v"' % i for i in range(xmlsafe.MAX_ATTRIBUTES))
    body = rss(item(1, b"ok") + b"<item " + attrs + b"><title>x</title></item>")
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and [e.title for e in p.entries] == ["ok"] and p.dropped == 1
    whole = b"<rss " + attrs + b"><channel><title>t</title></channel></rss>"
    refused = parse_feed(whole, url=URL, now=NOW)
    assert not refused.ok and "attributes" in (refused.error or "")


def test_an_ordinary_big_feed_is_within_budget() -> None:
    # 300 entries with a few KB of escaped HTML each: what real feeds look like at the cap.
    html = (
        b"&lt;p&gt;Some &lt;b&gt;text&lt;/b&gt; with a"
        b" &lt;a href='x'&gt;link&lt;/a&gt;.&lt;/p&gt;\n"
    )
    items = b"".join(
        item(i, b"entry %d" % i, NOW, b"<description>" + html * 40 + b"</description>")
        for i in range(MAX_ENTRIES)
    )
    body = rss(items)
    assert xmlsafe.cost(body).units < PARSE_BUDGET
    p = parse_feed(body, url=URL, now=NOW)
    assert p.ok and len(p.entries) == MAX_ENTRIES and p.dropped == 0
