"""The query language: what a person types, cleaned up into terms, exclusions and notices.

- Words are terms; every term must match. A "quoted phrase" is one term.
- `-word`, `NOT word` and `-"a phrase"` exclude: no match may hold them.
- AND, OR, NOT and NEAR written as bare upper-case connectives are dropped (OR gets a notice:
  it is not supported); leading and trailing punctuation (FTS operators, brackets) is noise.
- `since` is written as 7d, 24h, 90m, 2w or an ISO date (parse_since).

Nothing here touches a database; any text is a valid query (parse_query never raises).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.errors import InputError

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# Shorter terms are below the trigram indexes' reach: whole words (spaced scripts) or looked
# up through the trigram vocabulary (CJK).
MIN_TRIGRAM = 3
# FTS5 and search-engine operators: dropped when written as bare upper-case connectives.
_CONNECTIVES = frozenset({"AND", "OR", "NOT", "NEAR"})
_CTRL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PHRASE = re.compile(r'"([^"]*)"')
# What a query excludes: `-word` or `NOT word` (a bare upper-case NOT), or a quoted phrase.
_EXCLUDED = re.compile(r'(?:(?<!\S)-|(?<!\S)NOT\s+)(?:"([^"]*)"|([^\s"]+))')
_SPACE = re.compile(r"\s+")
_LAST_WORD = re.compile(r"\s\S*$")
# Scripts written without spaces between words: their terms are always substrings.
UNSPACED = re.compile("[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u2e80-\U0010ffff]")
# Tokens as FTS5's unicode61 cuts them: runs of letters and digits (CJK included).
TOKEN = re.compile(r"[^\W_]+")


class SearchError(InputError):
    """A search that cannot run as asked; the message is for the person who asked."""


def is_word_term(term: str) -> bool:
    """1-2 letters/digits of a spaced script: matched as a whole word, not a substring."""
    return len(term) < MIN_TRIGRAM and term.isalnum() and not UNSPACED.search(term)


def is_phrase_term(term: str) -> bool:
    """Several words of a spaced script: matched as a sequence of whole words."""
    return " " in term and len(TOKEN.findall(term)) > 1 and not UNSPACED.search(term)


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query cleaned up: its terms (all required), notices for the person, exclusions."""

    terms: tuple[str, ...]  # lower-case, NFKC, each >= 1 char with a letter or digit
    notices: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # `-word`, `NOT word`, `-"a phrase"`: no match may hold one

    @property
    def words(self) -> tuple[str, ...]:
        """Terms matched as whole words (see is_word_term)."""
        return tuple(t for t in self.terms if is_word_term(t))

    @property
    def phrases(self) -> tuple[str, ...]:
        """Terms matched as word sequences (see is_phrase_term)."""
        return tuple(t for t in self.terms if is_phrase_term(t))

    @property
    def substrings(self) -> tuple[str, ...]:
        """Terms matched as case-insensitive substrings: all the others."""
        return tuple(t for t in self.terms if not is_word_term(t) and not is_phrase_term(t))


def _has_word_char(s: str) -> bool:
    return any(ch.isalnum() for ch in s)


def _clean_text(query: str) -> str:
    """NFKC, with control and invisible formatting characters as spaces, lone surrogates gone."""
    q = query or ""
    if _SURROGATE.search(q):
        # Neither database can encode a lone surrogate (it raised mid-search); a pair of them
        # (text decoded as UTF-16 halves) is the character they stand for.
        q = q.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return _CTRL.sub(" ", unicodedata.normalize("NFKC", q))


def _shorten(q: str, n: int) -> str:
    """The first n characters of q, less a word cut in two (a fragment such as "re" would be
    a term of its own); a single word longer than n (CJK, say) is cut as it is."""
    cut = q[:n]
    if q[n].isspace():
        return cut.rstrip()
    m = _LAST_WORD.search(cut)
    return cut[: m.start()].rstrip() if m is not None and cut[: m.start()].strip() else cut


def parse_query(query: str) -> ParsedQuery:
    """Clean up any text into at most MAX_TERMS search terms; never raises."""
    notices: list[str] = []
    q = _clean_text(query)
    if len(q) > MAX_QUERY_CHARS:
        q = _shorten(q, MAX_QUERY_CHARS)
        notices.append(f"the query was shortened to its first {len(q)} characters")
    raw_terms: list[str] = []
    raw_excluded: list[str] = []

    # `-word`, `NOT word`, `-"a phrase"`: what no match may hold.
    def take_excluded(m: re.Match[str]) -> str:
        raw_excluded.append(m.group(1) if m.group(1) is not None else m.group(2))
        return " "

    # Balanced "quoted phrases" stay together; a stray quote is just a space.
    def take_phrase(m: re.Match[str]) -> str:
        phrase = m.group(1)
        if phrase.startswith("-"):  # (chat parsers quote -"a phrase" as "-a phrase")
            raw_excluded.append(phrase[1:])
        else:
            raw_terms.append(phrase)
        return " "

    rest = _EXCLUDED.sub(take_excluded, q)
    rest = _PHRASE.sub(take_phrase, rest)
    rest = rest.replace('"', " ")
    words = [w for w in _SPACE.split(rest) if w]
    if "OR" in words and len(words) > 1:
        notices.append("OR is not supported: every word must appear (search once per word)")
    if len(words) > 1 or raw_excluded:
        words = [w for w in words if w not in _CONNECTIVES] or words
    raw_terms.extend(words)
    terms = _clean_terms(raw_terms)
    excluded = [t for t in _clean_terms(raw_excluded) if t not in terms]
    if len(terms) > MAX_TERMS:
        notices.append(f"only the first {MAX_TERMS} words were used")
        terms = terms[:MAX_TERMS]
    if len(excluded) > MAX_TERMS:
        notices.append(f"only the first {MAX_TERMS} excluded words were used")
        excluded = excluded[:MAX_TERMS]
    return ParsedQuery(tuple(terms), tuple(notices), tuple(excluded))


def _clean_terms(raw: Sequence[str]) -> list[str]:
    terms: list[str] = []
    for t in raw:
        # Leading/trailing punctuation (FTS operators such as - * ^ :, brackets...) is noise.
        t = _SPACE.sub(" ", t).strip().strip("-+*^:()[]{}'`.,;!?<>|~/\\").strip()
        if not t or not _has_word_char(t):
            continue
        # lower(), not casefold(): the indexes fold case only ("ß" stays "ß", as in "Bußgeld").
        t = t.lower()
        if t not in terms:
            terms.append(t)
    return terms


def normalise_lang(lang: str | None) -> str | None:
    """A language tag's primary subtag, lower-case ("zh-Hant" -> "zh"); None for none."""
    if not lang:
        return None
    code = lang.strip().replace("_", "-").split("-")[0].lower()
    return code or None


def parse_since(value: str, now: datetime) -> datetime:
    """'7d', '24h', '90m', '2w' or an ISO date/time ('2026-11-01') -> an aware UTC datetime."""
    v = (value or "").strip().lower()
    m = re.fullmatch(r"(\d{1,5})\s*(m|min|h|d|w)", v)
    if m:
        n = int(m.group(1))
        unit = m.group(2)
        delta = {
            "m": timedelta(minutes=n),
            "min": timedelta(minutes=n),
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
            "w": timedelta(weeks=n),
        }[unit]
        if delta > timedelta(days=3660):
            raise SearchError(f"{value!r} reaches back too far: at most 10 years")
        return now - delta
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SearchError(
            f"{value!r} is not a time: write e.g. 7d, 24h or a date such as 2026-11-01"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
