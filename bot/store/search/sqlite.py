"""SQLite's text lanes: FTS5 tables (migrations 0002, 0003).

- stories_fts: trigrams of the padded title and summary, and the language; serves
  substrings of 3+ characters, and 1-2 character ones through its vocabulary (the index text
  is padded, so every occurrence begins some trigram).
- stories_fts_words: unicode61 words; serves whole words, "quoted phrases" and the language.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.store.search.lanes import Driver, Lane, Stream, Union
from bot.store.search.match import GLUE_MIN, MAX_CHAR
from bot.store.search.query import MIN_TRIGRAM, ParsedQuery


def fts5_expression(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: each term one quoted phrase, all required."""
    return " ".join(fts_phrase(t) for t in terms)


def fts_phrase(term: str) -> str:
    """`term` as an FTS5 string: never read as syntax (inner quotes are doubled)."""
    return '"' + term.replace('"', '""') + '"'


def fts_stream(table: str, expr: str) -> Stream:
    """The rowids of an FTS5 table that match `expr`, newest first."""
    # `table` is one of our constants, never user text; the expression is a bound parameter.
    return Stream(
        text(
            f"SELECT rowid FROM {table} WHERE {table} MATCH :q AND rowid < :below"
            " ORDER BY rowid DESC LIMIT :k"
        ),
        q=expr,
    )


# Trigram ranges looked up before, with the index version they were read from. fts5vocab
# walks every posting of the range (~10-25 ms for a common CJK word in a million stories);
# the answer holds until the index changes, and FTS5 rewrites its structure record (rowid 10
# of the _data table) on every write, so comparing it is an exact and cheap validity test.
VOCAB_CACHE_SIZE = 1024
# (Also the rarest trigrams of a term, under the key (url, "doc", term).)
_vocab_cache: OrderedDict[tuple[str, str, str], tuple[bytes, list[str]]] = OrderedDict()
_vocab_lock = threading.Lock()


def _vocab(s: Session, lo: str, hi: str) -> list[str]:
    """Indexed trigrams in [lo, hi)."""
    version = bytes(s.scalar(text("SELECT block FROM stories_fts_data WHERE id = 10")) or b"")
    key = (str(s.get_bind().engine.url), lo, hi)
    with _vocab_lock:
        hit = _vocab_cache.get(key)
        if hit is not None and hit[0] == version:
            _vocab_cache.move_to_end(key)
            return hit[1]
    rows = s.scalars(
        text("SELECT term FROM stories_fts_vocab WHERE term >= :lo AND term < :hi"),
        {"lo": lo, "hi": hi},
    )
    terms = list(rows)
    with _vocab_lock:
        _vocab_cache[key] = (version, terms)
        while len(_vocab_cache) > VOCAB_CACHE_SIZE:
            _vocab_cache.popitem(last=False)
    return terms


def _rarest(s: Session, term: str, n: int = 2) -> list[str]:
    """The n trigrams of `term` in the fewest stories (each a single index term: no
    positions to compare, unlike the term as a phrase)."""
    tris = sorted({term[i : i + 3] for i in range(len(term) - 2)})
    version = bytes(s.scalar(text("SELECT block FROM stories_fts_data WHERE id = 10")) or b"")
    key = (str(s.get_bind().engine.url), "doc", term)
    with _vocab_lock:
        hit = _vocab_cache.get(key)
        if hit is not None and hit[0] == version:
            _vocab_cache.move_to_end(key)
            return hit[1]
    params = {f"t{i}": t for i, t in enumerate(tris)}
    marks = ", ".join(f":{k}" for k in params)
    rows = s.execute(
        text(f"SELECT term, doc FROM stories_fts_vocab WHERE term IN ({marks})"), params
    )
    docs: dict[str, int] = {term: doc for term, doc in rows}
    rare = sorted(tris, key=lambda t: docs.get(t, 0))[:n]
    with _vocab_lock:
        _vocab_cache[key] = (version, rare)
        while len(_vocab_cache) > VOCAB_CACHE_SIZE:
            _vocab_cache.popitem(last=False)
    return rare


def _any_of(trigrams: Sequence[str]) -> str:
    return "(" + " OR ".join(fts_phrase(t) for t in trigrams) + ")"


def sqlite_text_lanes(s: Session, pq: ParsedQuery, lang: str | None) -> list[Lane] | None:
    """FTS5 lanes for the text terms; None when a term occurs nowhere."""
    lanes: list[Lane] = []
    if pq.substrings:
        parts: list[str] = []
        for t in pq.substrings:
            if len(t) >= MIN_TRIGRAM:
                # With a language: the term's rarest trigrams, each a plain index term. As a
                # phrase (all its trigrams, positions compared) the term is exact, but to
                # find that few or none of a language's stories hold it FTS5 would compare
                # positions at every story of that language that the term's trigrams meet.
                rare = _rarest(s, t) if lang and len(t) > MIN_TRIGRAM else []
                parts.append(" AND ".join(map(fts_phrase, rare)) if rare else fts_phrase(t))
                continue
            # A 1-2 character substring: any indexed trigram that starts with it.
            tris = _vocab(s, t, t + MAX_CHAR)
            if not tris:
                return None
            parts.append(_any_of(tris))
        if lang:
            parts.append("lang : " + fts_phrase(f" {lang} "))
        stream = fts_stream("stories_fts", " AND ".join(parts))
        exact = [t for t in pq.substrings if not lang or len(t) <= MIN_TRIGRAM]
        lanes.append(Lane(stream, frozenset(exact), True))
    if pq.phrases:
        parts = [fts_phrase(p) for p in pq.phrases]
        if lang:
            parts.append("lang : " + fts_phrase(lang))
        stream = fts_stream("stories_fts_words", " AND ".join(parts))
        lanes.append(Lane(stream, frozenset(pq.phrases), True))
    for w in pq.words:
        word_expr = fts_phrase(w) + (f" AND lang : {fts_phrase(lang)}" if lang else "")
        ways: list[Driver] = [fts_stream("stories_fts_words", word_expr)]
        # unicode61 keeps "AI法案" as one token: find the word glued before a CJK character
        # through trigrams that start with it and continue in CJK.
        glue = _vocab(s, w + GLUE_MIN, w + MAX_CHAR)
        if glue:
            expr = _any_of(glue) + (" AND lang : " + fts_phrase(f" {lang} ") if lang else "")
            ways.append(fts_stream("stories_fts", expr))
        # The glue trigrams do not check the word's start: the word stays to be checked.
        driver = Union(ways) if glue else ways[0]
        lanes.append(Lane(driver, frozenset() if glue else frozenset({w}), True))
    return lanes


def sqlite_lang_lane(lang: str) -> Lane:
    """The stories in one language (primary subtag), newest first: for a query without terms."""
    lang_expr = "lang : " + fts_phrase(lang)
    return Lane(fts_stream("stories_fts_words", lang_expr), covers_lang=True)
