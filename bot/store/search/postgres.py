"""PostgreSQL's text lanes: pg_trgm and a tsvector of words and CJK bigrams (migration 0003).

- PgScan: the newest stories, a range of ids at a time, the terms tested by PostgreSQL on
  each row (quick when the words are common).
- PgHits: every story the text indexes hold for the terms, fetched whole when there are few
  (quick when the words are rare).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import bindparam, func, literal_column, or_, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.store.models import Story
from bot.store.search import lanes
from bot.store.search.filters import Filters
from bot.store.search.lanes import BELOW, GIVE_UP, Driver, IdList, Lane
from bot.store.search.match import GLUE_MIN, MAX_CHAR
from bot.store.search.query import MIN_TRIGRAM, TOKEN, ParsedQuery

# PgHits first looks for this many hits, which is cheap whether there are more or not.
FIRST_LOOK = 2_000

# Kept identical to migrations/versions/0003_search_indexes.py (a test compares them).
CJK_CLASS = (
    r"\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30ff\u3100-\u318f\u31a0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    r"\U00020000-\U0003ffff"
)
_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
PG_TEXT = "(coalesce(title, '') || ' ' || coalesce(summary, ''))"
_LIKE_ESCAPE = "\\"


def pg_tsvector_sql(text_sql: str) -> str:
    """The indexed tsvector: words without CJK characters, then all CJK bigrams."""
    cjk = f"regexp_replace({text_sql}, '[^{CJK_CLASS}]+', ' ', 'g')"
    even = f"regexp_replace({cjk}, '(\\S\\S)', '\\1 ', 'g')"
    odd = (
        f"regexp_replace(regexp_replace({cjk}, '(^|\\s)(\\S)', '\\1\\2 ', 'g'),"
        " '(\\S\\S)', '\\1 ', 'g')"
    )
    words = f"regexp_replace({text_sql}, '[{CJK_CLASS}]+', ' ', 'g')"
    return f"to_tsvector('simple'::regconfig, {words} || ' ' || {even} || ' ' || {odd})"


_PG_TSV = pg_tsvector_sql(PG_TEXT)


def _like_pattern(term: str) -> str:
    esc = term.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def _pg_prefilters(s: Session, pq: ParsedQuery) -> tuple[list[ColumnElement[bool]], frozenset[str]]:
    """Index-served conditions implied by the terms, and the terms they check exactly."""
    tsv: ColumnElement[Any] = literal_column(_PG_TSV)
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    conds: list[ColumnElement[bool]] = []
    exact: set[str] = set()

    def has(q: ColumnElement[Any]) -> None:
        # A query in which the parser finds no word would match nothing: leave it out.
        if s.scalar(select(func.numnode(q))):
            conds.append(tsv.op("@@")(q))

    for w in (*pq.words, *pq.phrases):  # a phrase: all its words (no <->, so no recheck)
        has(func.plainto_tsquery(simple, w))
    for t in pq.substrings:
        runs = _CJK_RUN.findall(t)
        if runs:
            for run in runs:
                if len(run) == 1:  # every CJK character begins an indexed bigram or stands alone
                    if run.isalnum():
                        has(func.to_tsquery(simple, run + ":*"))
                else:
                    bigrams = " ".join(run[i : i + 2] for i in range(len(run) - 1))
                    has(func.plainto_tsquery(simple, bigrams))
        elif len(t) >= MIN_TRIGRAM:
            pat = _like_pattern(t)
            conds.append(
                or_(
                    Story.title.ilike(pat, escape=_LIKE_ESCAPE),
                    Story.summary.ilike(pat, escape=_LIKE_ESCAPE),
                )
            )
            exact.add(t)
    return conds, frozenset(exact)


def _pg_lang(code: str) -> ColumnElement[bool]:
    """A superset of the stories whose primary language subtag is `code` (served by the
    lower(language) text_pattern_ops index)."""
    esc = _like_pattern(code)[1:-1]
    lang = func.lower(Story.language)
    return or_(
        lang == code,
        lang.like(esc + "-%", escape=_LIKE_ESCAPE),
        lang.like(esc + "\\_%", escape=_LIKE_ESCAPE),
    )


def pg_scan_conds(pq: ParsedQuery) -> list[ColumnElement[bool]]:
    """Conditions implied by the terms that need no index: cheap on a row in hand."""
    conds: list[ColumnElement[bool]] = []

    def anywhere(t: str) -> ColumnElement[bool]:
        pat = _like_pattern(t)
        return or_(
            Story.title.ilike(pat, escape=_LIKE_ESCAPE),
            Story.summary.ilike(pat, escape=_LIKE_ESCAPE),
        )

    for t in pq.substrings:
        conds.append(anywhere(t))
    for p in pq.phrases:
        # Its words in order with only separators between (nearly exact: few rows are left
        # for the check in Python; the cost is that of reading the row, as for ILIKE).
        pat = "[^[:alnum:]]+".join(re.escape(w) for w in TOKEN.findall(p))
        conds.append(or_(Story.title.regexp_match(pat, "i"), Story.summary.regexp_match(pat, "i")))
    for w in pq.words:
        # Whole word: not inside letters/digits of a spaced script (CJK around it may be).
        edge = f"(^|[^[:alnum:]]|[{GLUE_MIN}-{MAX_CHAR}])"
        pat = f"{edge}{re.escape(w)}{edge.replace('^', '$', 1)}"
        conds.append(or_(Story.title.regexp_match(pat, "i"), Story.summary.regexp_match(pat, "i")))
    return conds


class PgScan(Driver):
    """The newest stories, a range of ids at a time, with the terms' index-free conditions
    tested by PostgreSQL itself: quick when the text is common."""

    def __init__(self, conds: Sequence[ColumnElement[bool]]) -> None:
        self.stmt = (
            select(Story.id)
            .where(Story.id < BELOW, Story.id >= bindparam("low"), *conds)
            .order_by(Story.id.desc())
        )

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        low = below - 8 * k
        # The id range, not a text index: pg_trgm would answer '%监管%' by reading all of it.
        with pg_settings(s, enable_bitmapscan="off", enable_seqscan="off"):
            ids = list(s.scalars(self.stmt, {"below": below, "low": low}))
        return ids, (low if low > 0 else None)


@contextmanager
def pg_settings(s: Session, **settings: str) -> Iterator[None]:
    """Planner settings for one statement (SET LOCAL, then back to the session's own).

    Not reset after an error: the transaction (or the savepoint) is rolled back, and SET
    LOCAL with it."""
    for name, value in settings.items():
        s.execute(text(f"SET LOCAL {name} = '{value}'"))
    yield
    for name in settings:
        s.execute(text(f"RESET {name}"))


class PgHits(Driver):
    """Every story the text indexes hold for the terms, fetched whole if there are few: a
    first look at up to FIRST_LOOK, then up to SET_LIMIT; more than that, or slower than its
    time limit (pg_trgm serves "it's" from trigrams as common as "  i"), and it gives up:
    the other lanes are then quicker."""

    def __init__(self, conds: Sequence[ColumnElement[bool]]) -> None:
        self.conds = list(conds)
        self.ids: IdList | None = None
        self.tried = 0

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        if self.ids is None:
            cap, limit = ((FIRST_LOOK, "150ms"), (lanes.SET_LIMIT, "500ms"))[self.tried]
            self.tried += 1
            # Bitmap scans only: the planner cannot tell how common a substring is, and a
            # sequential or backward scan for a rare one reads the whole table. Memory for an
            # exact bitmap: a lossy one rechecks rows by recomputing the tsvector.
            stmt = select(Story.id).where(*self.conds).limit(cap + 1)
            try:
                with (
                    s.begin_nested(),
                    pg_settings(
                        s,
                        enable_seqscan="off",
                        enable_indexscan="off",
                        work_mem="64MB",
                        statement_timeout=limit,
                    ),
                ):
                    ids = list(s.scalars(stmt))
            except OperationalError:  # the time limit
                return [], GIVE_UP
            if len(ids) > cap:
                return [], (below if self.tried < 2 else GIVE_UP)
            self.ids = IdList(ids)
        return self.ids.step(s, below, k)


def pg_text_lanes(s: Session, pq: ParsedQuery, f: Filters) -> list[Lane]:
    """Lanes for the text terms: the scan, and the hit set unless it would surely be too big."""
    extra: list[ColumnElement[bool]] = []
    if f.lang:
        extra.append(_pg_lang(f.lang))
    if f.since is not None:
        extra.append(Story.published >= f.since)
    text_lanes = [Lane(PgScan([*pg_scan_conds(pq), *extra, *f.id_conds(Story.id)]))]
    conds, exact = _pg_prefilters(s, pq)
    if conds:
        # The scan goes first when the words are common (it then ends in a turn or two),
        # the hit set when they are rare (the scan would read far before finding enough);
        # the hit set (a superset of the stories with all the words) is left out when it
        # would certainly be too large.
        estimate = _pg_estimate(s, pq, extra)
        if estimate < 5 * lanes.SET_LIMIT:
            hits = Lane(PgHits([*conds, *extra]), exact)
            text_lanes.insert(0 if estimate < 2 * lanes.SET_LIMIT else 1, hits)
    return text_lanes


def _pg_estimate(s: Session, pq: ParsedQuery, extra: Sequence[ColumnElement[bool]]) -> float:
    """The planner's guess at how many stories hold all the terms' words and pass `extra`
    (language, since): from the tsvector statistics, so sound for whole words and a lower
    bound for substrings."""
    words = [w for t in pq.terms for w in TOKEN.findall(t) if not _CJK_RUN.search(w)]
    if not words:
        return 0.0
    tsv: ColumnElement[Any] = literal_column(_PG_TSV)
    q = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
    stmt = select(Story.id).where(tsv.op("@@")(q), *extra)
    try:
        # Planned with the values (EXPLAIN takes no parameters); only a guess, never run.
        sql = stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        with s.begin_nested():
            plan = s.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"))
        return float(plan[0]["Plan"]["Plan Rows"])
    except (SQLAlchemyError, KeyError, IndexError, TypeError, ValueError):
        return 0.0  # unknown: look at the hit set first
