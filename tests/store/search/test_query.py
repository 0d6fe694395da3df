"""The query language: terms, phrases, exclusions, notices and `since`, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InputError, PolicyBotError
from bot.store.search import SearchError, fts5_expression, parse_query, parse_since
from tests.store.search.corpus import NOW


def test_parse_query_exclusions_and_unsupported_or() -> None:
    pq = parse_query('AI NOT regulation -"export controls" -x- e-commerce "un-do"')
    assert pq.terms == ("un-do", "ai", "e-commerce")  # phrases first, as before
    assert pq.excluded == ("regulation", "export controls", "x")
    assert pq.notices == ()
    assert parse_query('chips "-export controls"').excluded == ("export controls",)
    assert parse_query("AI -ai").excluded == ()  # a term is never also excluded
    assert parse_query("NOT").terms == ("not",)  # a lone NOT is a word
    assert any("OR is not supported" in n for n in parse_query("AI OR chips").notices)
    assert parse_query("AI OR chips").terms == ("ai", "chips")


def test_parse_query_and_fts_expression() -> None:
    pq = parse_query('  "AI Act"  OR chips AND "unclosed ')
    assert pq.terms == ("ai act", "chips", "unclosed")
    assert parse_query("a" * 5000).notices
    assert len(parse_query(" ".join(f"w{i}" for i in range(30))).terms) == 8
    assert parse_query("*** ::: ---").terms == ()
    assert fts5_expression(['say "hi"', "x"]) == '"say ""hi""" "x"'


def test_parse_since() -> None:
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    for bad in ("yesterday", "7x", "", "99999d"):
        with pytest.raises(SearchError):
            parse_since(bad, NOW)


def test_search_errors_are_input_errors() -> None:
    # One exception tree: callers that catch InputError (or PolicyBotError) catch these too.
    with pytest.raises(InputError) as exc:
        parse_since("yesterday", NOW)
    assert isinstance(exc.value, SearchError) and isinstance(exc.value, PolicyBotError)
    assert exc.value.suggestions == ()
    assert "is not a time" in str(exc.value)


def test_lone_surrogates_are_dropped() -> None:
    # Text decoded badly upstream (a broken UTF-16 pair) can hold them; no database takes them.
    assert parse_query("\ud800AI \udfff").terms == ("ai",)
    assert parse_query("chips -\udc00export").excluded == ("export",)
    assert parse_query("\ud800").terms == ()
    # A whole pair is the character it stands for (U+1D400, bold A, is "A" after NFKC).
    assert parse_query("\ud835\udc00I").terms == ("ai",)
