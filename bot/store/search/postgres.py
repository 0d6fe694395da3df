"""PostgreSQL's text lanes: pg_trgm, a tsvector of words and CJK bigrams (migration 0003),
and one of adjacent word pairs for phrases (0009).

- PgScan: the newest stories, a range of ids at a time, the terms tested by PostgreSQL on
  each row (quick when the words are common).
- PgHits: every story the text indexes hold for the terms, fetched whole when there are few
  (quick when the words are rare).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from itertools import pairwise
from typing import Any

from sqlalchemy import bindparam, cast, func, literal, literal_column, or_, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BooleanClauseList, ColumnElement

from bot.log import get_logger
from bot.store.models import Story
from bot.store.search import lanes
from bot.store.search.filters import Filters
from bot.store.search.lanes import BELOW, GIVE_UP, Driver, IdList, Lane
from bot.store.search.match import GLUE_MIN, MAX_CHAR
from bot.store.search.query import MIN_TRIGRAM, TOKEN, ParsedQuery, is_phrase_term

log = get_logger("policybot.search")

# PgHits first looks for this many hits, which is cheap whether there are more or not.
FIRST_LOOK = 2_000

# The language lane's smallest step, in ids.
LANG_SPAN = 65_536

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


def pg_pairs_sql(text_sql: str) -> str:
    """The indexed tsvector of adjacent ASCII word pairs ('a+b'), lexemes taken verbatim."""
    words = f"btrim(regexp_replace(lower({text_sql}), '[^0-9a-z]+', ' ', 'g'))"
    even = f"regexp_replace({words}, '(\\S+) (\\S+)', '\\1+\\2', 'g')"
    odd = f"regexp_replace(regexp_replace({words}, '^\\S+ ?', ''), '(\\S+) (\\S+)', '\\1+\\2', 'g')"
    return f"array_to_tsvector(string_to_array(btrim({even} || ' ' || {odd}), ' '))"


_PG_PAIRS = pg_pairs_sql(PG_TEXT)
_ASCII_WORD = re.compile("[0-9a-z]+")


def phrase_pairs(phrase: str) -> list[str] | None:
    """The pair lexemes a phrase's story must hold, or None when a word of it is not plain
    ASCII (the pair index splits text at every other character).

    Every story holding the phrase holds them: its words are maximal runs of letters and
    digits, so ASCII ones are whole words of the index too, and the characters between them
    are separators in both. The converse does not hold (pairs may span the title and the
    summary; a longer phrase's pairs may be apart): candidates are still checked.
    """
    words = TOKEN.findall(phrase)
    if len(words) < 2 or not all(_ASCII_WORD.fullmatch(w) for w in words):
        return None
    return [f"{a}+{b}" for a, b in pairwise(words)]


def pairs_match(pairs: Sequence[str]) -> ColumnElement[bool]:
    """The stories whose pair index holds all of `pairs` (exact: no row is rechecked)."""
    # Lexemes quoted verbatim (they hold only [0-9a-z+]): no parser, so 'a+b' stays one.
    q = " & ".join(f"'{p}'" for p in pairs)
    # Imported here: a SQLite process never needs SQLAlchemy's PostgreSQL dialect.
    from sqlalchemy.dialects.postgresql import TSQUERY

    return literal_column(_PG_PAIRS).op("@@")(cast(literal(q), TSQUERY))


_trgm: dict[str, bool] = {}


def has_trgm(s: Session) -> bool:
    """Whether pg_trgm's indexes exist (migration 0002 skips them where the server lacks the
    extension): without them ILIKE is no index condition, and a lane built on it would read
    the whole table at every step. Looked up once per database; said once in the log."""
    url = str(s.get_bind().engine.url)
    if url not in _trgm:
        n = s.scalar(text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%\\_trgm'"))
        _trgm[url] = bool(n)
        if not n:
            log.warning(
                "search.no_pg_trgm",
                detail="pg_trgm indexes are missing: substrings of 3+ characters are found"
                " by reading the newest stories; install PostgreSQL's contrib package and"
                " run `CREATE EXTENSION pg_trgm` with the indexes of migration 0002",
            )
    return _trgm[url]


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

    for w in pq.words:
        has(func.plainto_tsquery(simple, w))
    for p in pq.phrases:
        pairs = phrase_pairs(p)
        if pairs:  # its adjacent pairs
            conds.append(pairs_match(pairs))
        else:  # all its words (no <->, so no recheck)
            has(func.plainto_tsquery(simple, p))
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
        elif len(t) >= MIN_TRIGRAM and has_trgm(s):
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
    the other lanes are then quicker.

    `joined`: conditions on other tables (a source, a tag), joined to the hits by hash, never
    row by row (the text condition on a row outside its index recomputes the tsvector).
    `retry`: a first look out of time still leads to the second one (with a language filter
    the lanes left may read every story of that language: a loaded server may miss the first
    look's limit on a set the second fetches in time)."""

    def __init__(
        self,
        conds: Sequence[ColumnElement[bool]],
        joined: Sequence[ColumnElement[bool]] = (),
        retry: bool = False,
    ) -> None:
        self.conds = [*conds, *joined]
        self.joined = bool(joined)
        self.retry = retry
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
                        **({"enable_nestloop": "off"} if self.joined else {}),
                    ),
                ):
                    ids = list(s.scalars(stmt))
            except OperationalError:  # the time limit
                return [], (below if self.retry and self.tried < 2 else GIVE_UP)
            if len(ids) > cap:
                return [], (below if self.tried < 2 else GIVE_UP)
            self.ids = IdList(ids)
        return self.ids.step(s, below, k)


class PgRange(Driver):
    """The stories the text indexes hold for the terms, a range of ids at a time, newest
    first: the index's bitmap ANDed with the primary key's range, so only the candidates in
    the range are read, never the table (for terms too common for PgHits' whole set, too
    rare for the scan). The range is sized from the density seen so far."""

    def __init__(
        self, conds: Sequence[ColumnElement[bool]], density: float, min_span: int = 0
    ) -> None:
        self.stmt = (
            select(Story.id)
            .where(*conds, Story.id < BELOW, Story.id >= bindparam("low"))
            .order_by(Story.id.desc())
        )
        self.density = min(1.0, max(density, 1e-6))  # candidates per id
        self.min_span = min_span  # ids per step at least

    def step(self, s: Session, below: int, k: int) -> tuple[list[int], int | None]:
        span = max(k, self.min_span, int(k / self.density))
        low = below - span
        with pg_settings(s, enable_seqscan="off", enable_indexscan="off", work_mem="64MB"):
            ids = list(s.scalars(self.stmt, {"below": below, "low": low}))
        self.density = min(1.0, max(len(ids), 1) / span)
        return ids, (low if low > 0 else None)


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
        # Only the tsvector indexes serve the range lane (a few posting lists); pg_trgm's
        # ILIKE, a dozen long lists per term, costs more at each step than the scan does.
        gin = [c for c in conds if not isinstance(c, BooleanClauseList)]
        in_gin = _explain_rows(s, [*gin, *extra]) if gin else 0.0
        hits = None
        if estimate < 5 * lanes.SET_LIMIT:
            # With the selective filters of the story id (source, tags): PostgreSQL joins
            # their indexes to the text's hit set, so only the hits that pass them come back
            # to be checked row by row (a CJK term and a jurisdiction: a few, not thousands).
            # Not relevance: a third of all stories, the planner would start from it.
            selective = replace(f, relevant_only=False).id_conds(Story.id)
            hits = Lane(PgHits([*conds, *extra], selective, retry=bool(f.lang)), exact)
            text_lanes.insert(0 if estimate < 2 * lanes.SET_LIMIT else 1, hits)
        if gin and in_gin >= FIRST_LOOK:
            # Maybe too many for the hit set (a phrase of common words, CJK terms of common
            # bigrams), maybe too few for the scan to meet soon: the index a range of ids at
            # a time, before the scan (it reads only the candidates of each range). The hit
            # set still goes first: its first look settles a rare term at once.
            top = s.scalar(select(func.max(Story.id))) or 1
            at = 1 if hits is not None and text_lanes[0] is hits else 0
            text_lanes.insert(at, Lane(PgRange([*gin, *extra], in_gin / top)))
    if f.lang:
        # The stories in that language, a range at a time: when few or none of them hold
        # the terms (English words in Korean stories), only they are read, not the table
        # (the hit set may give up on its time limit, and the scan reads every story).
        top = s.scalar(select(func.max(Story.id))) or 1
        # Steps of at least LANG_SPAN ids: the race judges a lane by its first turns, and
        # small ones are mostly fixed costs (the scan's, whose rows are all read, are not).
        text_lanes.append(Lane(PgRange(extra, _explain_rows(s, extra) / top, LANG_SPAN)))
    return text_lanes


def _pg_estimate(s: Session, pq: ParsedQuery, extra: Sequence[ColumnElement[bool]]) -> float:
    """The planner's guess at how many stories hold all the terms' words (a phrase: its
    pairs) and pass `extra` (language, since): from the tsvector statistics, so sound for
    whole words and a lower bound for substrings."""
    conds: list[ColumnElement[bool]] = []
    words: list[str] = []
    for t in pq.terms:
        pairs = phrase_pairs(t) if is_phrase_term(t) else None
        if pairs:
            conds.append(pairs_match(pairs))
        else:
            words += [w for w in TOKEN.findall(t) if not _CJK_RUN.search(w)]
    if words:
        tsv: ColumnElement[Any] = literal_column(_PG_TSV)
        q = func.plainto_tsquery(literal_column("'simple'::regconfig"), " ".join(words))
        conds.append(tsv.op("@@")(q))
    if not conds:
        return 0.0
    return _explain_rows(s, [*conds, *extra])


def _explain_rows(s: Session, conds: Sequence[ColumnElement[bool]]) -> float:
    """The planner's guess at how many stories meet all of `conds` (never run)."""
    stmt = select(Story.id).where(*conds)
    try:
        # Planned with the values (EXPLAIN takes no parameters); only a guess, never run.
        sql = stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        with s.begin_nested():
            plan = s.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"))
        return float(plan[0]["Plan"]["Plan Rows"])
    except (SQLAlchemyError, KeyError, IndexError, TypeError, ValueError):
        return 0.0  # unknown: look at the hit set first
