"""Lexicon files: YAML data -> validated, flattened entries ready for the matcher.

Every file in bot/classify/data/ and every user file has the same format (see data/README.md):
a mapping of optional sections, each a list of *groups*; a group names some surface forms
(`terms`) and what a match means (weight, topics, jurisdiction...). Files are merged by
appending their groups, so a user file can add terms, negatives, institutions or instruments
without repeating the shipped data. Each group also has an `id` and `examples:` headlines
(`lexicon check` and tests run them); terms may be patterns ("H.R. <number>") and weights
named levels (WEIGHT_LEVELS).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import errors
from bot.lang import normalise_language
from bot.verdict import TOPICS

DATA_DIR = Path(__file__).parent / "data"

# What a match of each section means to the scorer.
KINDS: tuple[str, ...] = (
    "ai",  # evidence that the item is about AI
    "compute",  # chips/compute: AI evidence only next to export-control or industrial policy
    "governance",  # evidence of law/policy/regulatory action
    "ai_governance",  # both at once ("AI regulation", "人工智能治理")
    "topic",  # topic cue only: says which topic, adds nothing to relevance
    "negative",  # evidence the item is something else (funding round, sports, research result)
    "actor",  # a governmental actor (government, ministry, lawmakers, named leaders)
    "neutral",  # matches only to shadow a shorter, misleading term ("Star Alliance")
    "jurisdiction",  # a place name, demonym, capital or multilateral body -> a code
    "institution",  # a public body -> a code, governance weight, maybe AI weight
    "instrument",  # a named law or policy instrument -> canonical name, code(s), topics
    "context",  # the cues next to it are not the news: "rather than a law", "under the AI Act"
)

SECTION_KIND: dict[str, str] = {
    "ai": "ai",
    "compute": "compute",
    "governance": "governance",
    "ai_governance": "ai_governance",
    "topics": "topic",
    "negative": "negative",
    "actors": "actor",
    "neutral": "neutral",
    "institutions": "institution",
    "instruments": "instrument",
    "context": "context",
}

_GROUP_KEYS = {
    "terms",
    "weight",
    "topics",
    "jurisdiction",
    "jurisdictions",
    "case",
    "needs_actor",
    "ai",
    "label",
    "lang",
    "id",
    "name",
    "generic",
    "scope",
    "from_actor",
    "near",
    "unless_actor",
    # Documentation a test reads: headlines the group should match (`examples`) and should
    # not (`not`). `id` (above) names the group, unique in its file.
    "examples",
    "not",
    "hides",
    "ambiguous",
}
_SCOPES = ("after", "before", "around")
_NEAR_KINDS = ("ai", "compute", "actor")
_JUR_KEYS = {"names", "demonyms", "capitals", "places", "weak", "generic", "exact", "local"}
_JUR_SUBTYPE_WEIGHT = {
    "names": 1.0,
    "exact": 1.0,  # a name only with this capitalisation ("Usa" in Italian, not the verb)
    "capitals": 0.8,
    "demonyms": 0.6,
    "places": 0.8,
    "weak": 0.4,
    "generic": 0.2,  # "global", "international": multilateral only with other evidence
}
# Words after a place name that show it modifies a noun (see `attribution` in data/README.md).
_ATTRIBUTION_KEYS = {"modified_nouns"}
_CODE_RE = re.compile(r"^(?:[A-Z]{2}|EU|INTL)$")
_LANGUAGE_CODE = re.compile(r"[a-zA-Z]{2,3}(?:[-_]\w+)*")  # a code or tag, not a name
_SHORT_ACRONYM = re.compile(r"^[A-Z][A-Z0-9.&\-]{0,5}$")
# Named weight levels (see data/README.md): how strongly one match supports its section.
WEIGHT_LEVELS: dict[str, float] = {
    "strong": 1.0,  # names the thing on its own: "legislation", "AI Act", "人工智能"
    "clear": 0.8,  # almost always means it: "criminalise", "Data Protection Authority"
    "supporting": 0.6,  # means it in most news: "guidelines", "Act" (capitalised)
    "weak": 0.4,  # means it next to other evidence: "talks", "framework"
    "faint": 0.2,  # a hint that only tips a close call
}
# A group id: a slug, unique within its section of a file.
_GROUP_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Term patterns (see data/README.md): "(SB|HB|AB)( |-|)<number>" stands for SB 243, HB-1709,
# AB2013... An alternation is a parenthesised list with a "|"; other parentheses are text.
_PATTERN_PART = re.compile(r"\(([^()]*\|[^()]*)\)|<([a-z]+)>")
_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    # a number: a digit, and the rest of the number (or anything) after it
    "number": tuple(f"{d}*" for d in "0123456789"),
}


class LexiconError(errors.ConfigError):
    """A problem in a lexicon file, worded for the person who wrote it."""


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    term: str  # as written (minus '*' markers): also the case-sensitive form
    key: str  # normalised, lower-cased form used in the automaton
    weight: float = 1.0
    topics: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    case: bool = False  # case-sensitive: the text must match `term` exactly
    left: bool = True  # require a word boundary before (Latin-script starts only)
    right: bool = True  # ... and after
    needs_actor: bool = False  # counts fully only next to a governmental actor
    ai: float = 0.0  # AI evidence carried by an institution/instrument/ai_governance match
    label: str = ""  # instrument canonical name, jurisdiction subtype, negative category...
    ident: str = ""  # instrument id
    langs: tuple[str, ...] = ()  # when set, the entry only counts in items of these languages
    generic: bool = False  # a topic cue that yields to a specific one ("rules", "restricts")
    # A verb whose topic is the role of the governmental actor in its sentence ("parliament
    # approves" -> legislation, "cabinet approves" -> executive action; `topics` of actors).
    from_actor: bool = False
    near: tuple[str, ...] = ()  # topic counts only with a hit of these kinds in the sentence
    scope: str = ""  # context: the words "after" it or "before" it (SOV languages)
    # context: holds only where no governmental actor precedes it in the sentence ("Apple
    # says its model complies with the rules", not "EU regulators say it complies")
    unless_actor: bool = False
    source: str = ""  # file it came from, for error messages and `explain`


@dataclass(frozen=True, slots=True)
class Group:
    """One group of a section as written: what `lexicon check` and the examples test read."""

    section: str
    kind: str
    id: str
    source: str
    index: int  # its place in the section, for messages
    terms: tuple[str, ...]  # as written, patterns expanded
    entries: tuple[Entry, ...]
    examples: tuple[str, ...] = ()
    not_examples: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    hides: frozenset[str] = frozenset()  # context: governance terms it hides on purpose
    # terms another group reads the other way on purpose ("investigación": research or an
    # investigation); `lexicon check` reports other such terms as conflicts
    ambiguous: frozenset[str] = frozenset()
    explicit_id: bool = True  # False: derived from the first term (no `id:` in the file)

    @property
    def where(self) -> str:
        return f"{self.source}: {self.section}[{self.index}] (id {self.id})"


@dataclass
class Lexicon:
    entries: list[Entry] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    char_map: dict[int, str] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)  # id -> canonical name
    sources: list[str] = field(default_factory=list)
    # Lower-case nouns that a place name in front of them only describes: "the US journal",
    # "a China-based start-up", "U.S. tech giants" (the place is not the actor).
    modified_nouns: set[str] = field(default_factory=set)


# --- text normalisation shared by terms and texts -------------------------------------------


def is_wide(ch: str) -> bool:
    """Scripts written without spaces between words (CJK, kana) or with particles glued to
    words (Hangul): terms in them match as substrings."""
    o = ord(ch)
    return (
        0x1100 <= o <= 0x11FF
        or 0x2E80 <= o <= 0xD7FF
        or 0xF900 <= o <= 0xFAFF
        or 0xFF00 <= o <= 0xFFEF
        or 0x20000 <= o <= 0x3FFFF
    )


def is_word_char(ch: str) -> bool:
    """A letter or digit of a spaced script, or a combining mark inside such a word (Devanagari
    vowel signs, Arabic vowel points): a term ending in one still needs a word boundary."""
    return (ch.isalnum() or unicodedata.category(ch)[0] == "M") and not is_wide(ch)


def base_char_map() -> dict[int, str]:
    """One-to-one character folding that keeps offsets: full-width ASCII, quotes, dashes."""
    m: dict[int, str] = {}
    for o in range(0xFF01, 0xFF5F):
        m[o] = chr(o - 0xFEE0)
    m[0x3000] = " "
    for q in "\u2018\u2019\u201b\u2032\u00b4`":
        m[ord(q)] = "'"
    for q in "\u201c\u201d\u201e\u201f\u00ab\u00bb":
        m[ord(q)] = '"'
    for d in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212":
        m[ord(d)] = "-"
    for s in "\u00a0\u2007\u202f\u2009\u200a":
        m[ord(s)] = " "
    return m


# Greek has two lower-case sigmas: final ς and σ elsewhere. str.lower() picks one by the
# letter's place in the word, but the compiled build's lower() maps Σ to σ everywhere, so a
# key and a text could disagree between builds. Keys and texts alike fold ς to σ.
FINAL_SIGMA = "\u03c2"
SIGMA = "\u03c3"


def lower_same_length(text: str) -> str:
    """`text` lower-cased with its length (and so every offset) kept, final sigma folded."""
    low = text.lower()
    if len(low) != len(text):
        # A handful of characters (e.g. U+0130) lower to two: keep those as they are.
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low.replace(FINAL_SIGMA, SIGMA) if FINAL_SIGMA in low else low


# --- loading -------------------------------------------------------------------------------


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise LexiconError(f"{where}: expected a list, got {type(value).__name__}")


def _terms(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    out = []
    for t in _as_list(value, where):
        if not isinstance(t, str | int | float) or isinstance(t, bool):
            raise LexiconError(f"{where}: every term must be a string, got {t!r}")
        s = str(t).strip()
        if not s.strip("*"):
            continue
        if "<" in s or "|" in s:
            out.extend(expand_pattern(s, where))
        else:
            out.append(s)
    return out


def expand_pattern(term: str, where: str = "pattern") -> list[str]:
    """The plain terms a pattern stands for, in order: `(a|b)` is either text (`( |-|)`: a
    space, a hyphen or nothing), `<number>` a number (only at the end: the match covers the
    text before it and the number's first digit). "(SB|HB)( |-|)<number>" -> "SB 0*", ...,
    "HB9*": the automaton that finds every term in one pass needs them spelled out."""
    choices: list[tuple[str, ...]] = []
    pos = 0
    for m in _PATTERN_PART.finditer(term):
        if m.start() > pos:
            choices.append((term[pos : m.start()],))
        if m.group(1) is not None:
            choices.append(tuple(m.group(1).split("|")))
        else:
            name = m.group(2)
            if name not in _PLACEHOLDERS:
                raise LexiconError(
                    f"{where}: {term!r}: unknown placeholder <{name}>;"
                    f" known: {', '.join(f'<{k}>' for k in _PLACEHOLDERS)}"
                )
            if m.end() != len(term.rstrip("*")):
                raise LexiconError(f"{where}: {term!r}: <{name}> can only end a term")
            choices.append(_PLACEHOLDERS[name])
        pos = m.end()
    if pos < len(term):
        choices.append((term[pos:],))
    rest = "".join(c[0] for c in choices if len(c) == 1)
    if "<" in rest or "|" in rest:
        raise LexiconError(
            f"{where}: {term!r}: write alternatives as (a|b) and placeholders as <number>"
        )
    out = [""]
    for c in choices:
        out = [a + b for a in out for b in c]
    return [t.replace("**", "*") for t in out if t.strip("*")]


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    codes = []
    for c in _as_list(value, where):
        cu = str(c).strip().upper()
        if not _CODE_RE.match(cu):
            raise LexiconError(
                f"{where}: {c!r} is not a jurisdiction code (ISO 3166 alpha-2, EU or INTL)"
            )
        codes.append(cu)
    return tuple(codes)


def _topics(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    out = []
    for t in _as_list(value, where):
        if t not in TOPICS:
            raise LexiconError(f"{where}: unknown topic {t!r}; choose from {', '.join(TOPICS)}")
        out.append(str(t))
    return tuple(out)


def _langs(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    out = []
    for v in _as_list(value, where):
        # As items' languages are read (bot.lang), so that the two meet: "fil" is Filipino.
        is_code = isinstance(v, str) and _LANGUAGE_CODE.fullmatch(v.strip()) is not None
        code = normalise_language(v) if is_code else None
        if code is None:
            raise LexiconError(
                f"{where}: {v!r} is not a language code (ISO 639-1: en, zh, ko...; ISO 639-3"
                " where there is none: fil)"
            )
        out.append(code)
    return tuple(out)


def _number(value: Any, where: str, default: float) -> float:
    """A weight: a level's name (WEIGHT_LEVELS) or a number from 0 to 1."""
    if value is None:
        return default
    if isinstance(value, str) and value in WEIGHT_LEVELS:
        return WEIGHT_LEVELS[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LexiconError(
            f"{where}: expected a level ({', '.join(WEIGHT_LEVELS)}) or a number from 0 to 1,"
            f" got {value!r}"
        )
    return float(value)


def _headlines(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    out = []
    for h in _as_list(value, where):
        if not isinstance(h, str) or not h.strip():
            raise LexiconError(f"{where}: every example must be a headline (a string), got {h!r}")
        out.append(h.strip())
    return tuple(out)


def _term_keys(
    g: dict[str, Any], name: str, where: str, char_map: Mapping[int, str]
) -> frozenset[str]:
    """The matcher's keys of the terms a group lists under `name` (hides, ambiguous)."""
    if name not in g:
        return frozenset()
    return frozenset(
        lower_same_length(t.strip("*").translate(char_map))
        for t in _terms(g[name], f"{where}.{name}")
    )


def slug(text: str) -> str:
    """A readable id from a term: "AI Act" -> "ai-act", "H.R. <number>" -> "h-r-number"."""
    return re.sub(r"[\W_]+", "-", text.lower()).strip("-")


def _group_id(g: dict[str, Any], terms: list[str], where: str, taken: set[str]) -> str:
    """The group's `id`, checked, or one made from its first term (user files may leave ids
    out; the shipped files carry them, and a test checks)."""
    raw = g.get("id")
    if raw is not None:
        ident = str(raw).strip()
        if not _GROUP_ID.match(ident):
            raise LexiconError(
                f"{where}.id: {raw!r} is not a slug: lower-case letters, digits and '-'"
                ' ("ai-act", "bill-numbers")'
            )
        if ident in taken:
            raise LexiconError(
                f"{where}.id: {ident!r} is already the id of another group of this section"
                " in this file: give each group its own id"
            )
        return ident
    base = slug(terms[0]) if terms else "group"
    ident, n = base or "group", 1
    while ident in taken:
        n += 1
        ident = f"{base}-{n}"
    return ident


def make_entry(
    kind: str,
    raw_term: str,
    char_map: Mapping[int, str],
    *,
    case: bool | None = None,
    **kw: Any,
) -> Entry:
    """Parse a term's markers: a leading/trailing '*' lifts the word-boundary check on that
    side ('regulat*' matches regulation, regulatory...). Short all-capitals acronyms (AI, EU,
    KI, IA, UN, US) are case-sensitive unless the group says `case: false`."""
    left_star = raw_term.startswith("*")
    right_star = raw_term.endswith("*")
    term = raw_term.strip("*").translate(char_map)
    if case is None:
        case = bool(_SHORT_ACRONYM.match(term)) and sum(c.isalpha() for c in term) <= 5
    first, last = term[0], term[-1]  # (is_word_char, inlined: called for every term)
    low = term.lower() if term.isascii() else lower_same_length(term)
    return Entry(
        kind=kind,
        term=term,
        key=low,
        case=case,
        left=not left_star and first.isalnum() and not is_wide(first),
        right=not right_star and last.isalnum() and not is_wide(last),
        **kw,
    )


def _load_groups(
    lex: Lexicon, section: str, groups: list[Any], source: str, char_map: Mapping[int, str]
) -> None:
    kind = SECTION_KIND[section]
    taken: set[str] = set()
    for i, g in enumerate(groups):
        where = f"{source}: {section}[{i}]"
        if isinstance(g, str):  # a bare term is a group of one with defaults
            g = {"terms": [g]}
        if not isinstance(g, dict):
            raise LexiconError(f"{where}: expected a mapping with `terms:` or a plain string")
        unknown = set(g) - _GROUP_KEYS
        if unknown:
            raise LexiconError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))};"
                f" allowed: {', '.join(sorted(_GROUP_KEYS))}"
            )
        terms = _terms(g.get("terms"), f"{where}.terms")
        if kind == "instrument":
            name = str(g.get("name") or "").strip()
            ident = str(g.get("id") or "").strip()
            if not name or not ident:
                raise LexiconError(f"{where}: an instrument needs `id` and `name`")
            lex.instruments[ident] = name
            terms = [*terms, name] if name not in terms else terms
        if not terms:
            raise LexiconError(f"{where}: no terms")
        group_id = _group_id(g, terms, where, taken)
        taken.add(group_id)
        first = len(lex.entries)
        default_weight = {"topic": 0.0, "neutral": 0.0}.get(kind, 1.0)
        weight = _number(g.get("weight"), f"{where}.weight", default_weight)
        default_ai = {"instrument": 1.0, "ai_governance": 1.0}.get(kind, 0.0)
        ai = _number(g.get("ai"), f"{where}.ai", default_ai)
        codes = _codes(g.get("jurisdictions", g.get("jurisdiction")), f"{where}.jurisdiction")
        topics = _topics(g.get("topics"), f"{where}.topics")
        case = g.get("case")
        if case is not None and not isinstance(case, bool):
            raise LexiconError(f"{where}.case: expected true or false")
        generic = g.get("generic", False)
        if not isinstance(generic, bool):
            raise LexiconError(f"{where}.generic: expected true or false")
        from_actor = g.get("from_actor", False)
        if not isinstance(from_actor, bool):
            raise LexiconError(f"{where}.from_actor: expected true or false")
        near = tuple(str(k) for k in _as_list(g.get("near"), f"{where}.near"))
        if set(near) - set(_NEAR_KINDS):
            raise LexiconError(f"{where}.near: choose from {', '.join(_NEAR_KINDS)}")
        unless_actor = g.get("unless_actor", False)
        if not isinstance(unless_actor, bool):
            raise LexiconError(f"{where}.unless_actor: expected true or false")
        if unless_actor and kind != "context":
            raise LexiconError(f"{where}.unless_actor: only for the `context` section")
        scope = ""
        if kind == "context":
            scope = str(g.get("scope") or "after")
            if scope not in _SCOPES:
                raise LexiconError(f"{where}.scope: expected one of {', '.join(_SCOPES)}")
            # A context shields every topic unless it names some (`topics: []`: none).
            if "topics" not in g:
                topics = TOPICS
        elif "scope" in g or "hides" in g:
            key = "scope" if "scope" in g else "hides"
            raise LexiconError(f"{where}.{key}: only for the `context` section")
        langs = _langs(g.get("lang"), f"{where}.lang")
        # What every term of the group shares, worked out once per group.
        shared: dict[str, Any] = {
            "weight": weight,
            "topics": topics,
            "jurisdictions": codes,
            "needs_actor": bool(g.get("needs_actor", False)),
            "ai": ai,
            "label": str(g.get("name") or g.get("label") or ""),
            # (a group's id names the group; only an instrument's reaches the verdict)
            "ident": str(g.get("id") or "") if kind == "instrument" else "",
            "langs": langs,
            "generic": generic,
            "from_actor": from_actor,
            "near": near,
            "scope": scope,
            "unless_actor": unless_actor,
            "source": source,
        }
        for t in terms:
            lex.entries.append(make_entry(kind, t, char_map, case=case, **shared))
        lex.groups.append(
            Group(
                section=section,
                kind=kind,
                id=group_id,
                source=source,
                index=i,
                terms=tuple(terms),
                entries=tuple(lex.entries[first:]),
                examples=_headlines(g["examples"], f"{where}.examples") if "examples" in g else (),
                not_examples=_headlines(g["not"], f"{where}.not") if "not" in g else (),
                langs=langs,
                hides=_term_keys(g, "hides", where, char_map),
                ambiguous=_term_keys(g, "ambiguous", where, char_map),
                explicit_id="id" in g,
            )
        )


def _load_jurisdictions(lex: Lexicon, value: Any, source: str, char_map: Mapping[int, str]) -> None:
    if not isinstance(value, dict):
        raise LexiconError(f"{source}: jurisdictions: expected a mapping of code -> names")
    for code, spec in value.items():
        where = f"{source}: jurisdictions.{code}"
        if isinstance(code, bool):
            raise LexiconError(
                f'{where}: a code read as true/false: quote it ("NO": Norway, "ON"...)'
            )
        (cu,) = _codes(str(code), where)
        if not isinstance(spec, dict):
            raise LexiconError(f"{where}: expected a mapping (names, demonyms, capitals...)")
        unknown = set(spec) - _JUR_KEYS
        if unknown:
            raise LexiconError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))};"
                f" allowed: {', '.join(sorted(_JUR_KEYS))}"
            )
        for sub, weight in _JUR_SUBTYPE_WEIGHT.items():
            for t in _terms(spec.get(sub), f"{where}.{sub}"):
                lex.entries.append(
                    make_entry(
                        "jurisdiction",
                        t,
                        char_map,
                        case=True if sub == "exact" else None,
                        weight=weight,
                        jurisdictions=(cu,),
                        label="names" if sub == "exact" else sub,
                        source=source,
                    )
                )
        local = spec.get("local")
        if local is not None:
            if not isinstance(local, dict):
                raise LexiconError(f"{where}.local: expected a mapping of language -> names")
            for lang, terms in local.items():
                langs = _langs(lang, f"{where}.local")
                for t in _terms(terms, f"{where}.local.{lang}"):
                    lex.entries.append(
                        make_entry(
                            "jurisdiction",
                            t,
                            char_map,
                            weight=0.8,
                            jurisdictions=(cu,),
                            label="names",
                            langs=langs,
                            source=source,
                        )
                    )


def _load_attribution(lex: Lexicon, value: Any, source: str) -> None:
    if not isinstance(value, dict):
        raise LexiconError(f"{source}: attribution: expected a mapping (modified_nouns: [...])")
    unknown = set(value) - _ATTRIBUTION_KEYS
    if unknown:
        raise LexiconError(
            f"{source}: attribution: unknown key(s) {', '.join(sorted(map(str, unknown)))};"
            f" allowed: {', '.join(sorted(_ATTRIBUTION_KEYS))}"
        )
    words = _terms(value.get("modified_nouns"), f"{source}: attribution.modified_nouns")
    lex.modified_nouns.update(lower_same_length(w) for w in words)


def _load_char_map(lex: Lexicon, value: Any, source: str) -> None:
    if not isinstance(value, dict):
        raise LexiconError(f"{source}: char_map: expected a mapping of 'from chars': 'to chars'")
    for src, dst in value.items():
        src_s, dst_s = str(src), str(dst)
        if len(src_s) != len(dst_s):
            raise LexiconError(
                f"{source}: char_map {src_s!r} -> {dst_s!r}: both sides need the same length"
            )
        for a, b in zip(src_s, dst_s, strict=True):
            lex.char_map[ord(a)] = b


def parse_lexicon_data(lex: Lexicon, data: Any, source: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise LexiconError(f"{source}: expected a mapping of sections (ai:, governance:, ...)")
    allowed = {*SECTION_KIND, "jurisdictions", "char_map", "attribution", "version"}
    unknown = set(data) - allowed
    if unknown:
        raise LexiconError(
            f"{source}: unknown section(s) {', '.join(sorted(map(str, unknown)))};"
            f" allowed: {', '.join(sorted(allowed))}"
        )
    # The character map applies to every term, so it is read before the terms.
    if "char_map" in data:
        _load_char_map(lex, data["char_map"], source)
    char_map = {**base_char_map(), **lex.char_map}
    for section in SECTION_KIND:
        if section in data:
            _load_groups(
                lex, section, _as_list(data[section], f"{source}: {section}"), source, char_map
            )
    if "jurisdictions" in data:
        _load_jurisdictions(lex, data["jurisdictions"], source, char_map)
    if "attribution" in data:
        _load_attribution(lex, data["attribution"], source)
    lex.sources.append(source)


# libyaml's parser when PyYAML has it (its wheels do): the same documents, read ~10x faster,
# which is most of the classifier's start-up.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR = "tag:yaml.org,2002:str"
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null")
)  # fmt: skip
_MERGE = "tag:yaml.org,2002:merge"


def _load_yaml(text: str) -> Any:
    """yaml.load(text, Loader=_YAML_LOADER), with the plain strings, lists and mappings that
    lexicons are made of built by one recursive walk of the composed nodes: PyYAML's own
    constructor, generators and all, took as long as libyaml's parsing. Other nodes (a merge
    key, a timestamp) are built by PyYAML's constructor, as before."""
    loader = _YAML_LOADER(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _build(loader, node)
    finally:
        loader.dispose()


def _build(loader: Any, node: yaml.Node) -> Any:
    tag = node.tag
    if tag == _STR:
        return node.value
    if isinstance(node, yaml.SequenceNode) and tag == "tag:yaml.org,2002:seq":
        return [_build(loader, n) for n in node.value]
    if (
        isinstance(node, yaml.MappingNode)
        and tag == "tag:yaml.org,2002:map"
        and not any(k.tag == _MERGE for k, _ in node.value)
    ):
        out = {}
        for k, v in node.value:
            key = _build(loader, k)
            try:
                out[key] = _build(loader, v)
            except TypeError:  # an unhashable key: PyYAML's message
                return loader.construct_document(node)
        return out
    if tag in _SCALARS:
        return loader.construct_object(node)
    return loader.construct_document(node)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: cannot read lexicon file: {exc}") from None
    try:
        return _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise LexiconError(
            f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None


def builtin_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.yaml"))


# Kinds a context term must not contain: the longer context match would hide their evidence
# ("in breach of" would hide "breach"). A context term that is itself one of them is fine:
# matches of the same span are all kept.
_HIDDEN_BY_CONTEXT = ("governance", "ai_governance")


_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits (is_word_char in Latin text)
_WIDE = re.compile("[\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")


def context_conflicts(lex: Lexicon) -> list[tuple[Entry, Entry]]:
    """(context entry, governance entry inside it) for every context term that contains a
    governance term: see _HIDDEN_BY_CONTEXT. Cheap enough to run at every load."""
    bounded: dict[str, list[Entry]] = {}  # whole-word Latin keys and CJK keys
    # 'regulat*', '*gesetz', by their first two characters (few share a context key's pairs)
    open_ended: dict[str, list[Entry]] = {}
    for e in lex.entries:
        if e.kind in _HIDDEN_BY_CONTEXT:
            if (e.left and e.right) or _WIDE.search(e.key):
                bounded.setdefault(e.key, []).append(e)
            else:
                open_ended.setdefault(e.key[:2], []).append(e)
    found: list[tuple[Entry, Entry]] = []

    def hit(c: Entry, g: Entry, i: int, j: int) -> None:
        if (not g.case or c.term[i:j] == g.term) and (
            not (g.langs and c.langs) or set(g.langs) & set(c.langs)
        ):
            found.append((c, g))

    for c in lex.entries:
        if c.kind != "context":
            continue
        key, n = c.key, len(c.key)
        if _WIDE.search(key):
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n + 1)]
        else:
            words = [m.span() for m in _WORD.finditer(key)]
            pairs = [(i, j) for i, _ in words for _, j in words if j > i]
        for i, j in pairs:
            if (i, j) != (0, n):
                for g in bounded.get(key[i:j], ()):
                    hit(c, g, i, j)
        pairs_here = {key[i : i + 2] for i in range(n)}
        for g in [g for p in pairs_here for g in open_ended.get(p, ())]:
            i = key.find(g.key)
            while i >= 0:
                j = i + len(g.key)
                inside = (i, j) != (0, n)
                left_ok = not g.left or i == 0 or not is_word_char(key[i - 1])
                right_ok = not g.right or j == n or not is_word_char(key[j])
                if inside and left_ok and right_ok:
                    hit(c, g, i, j)
                    break
                i = key.find(g.key, i + 1)
    return found


def check_context_rule(lex: Lexicon) -> None:
    """Raise on the first context term that contains a governance term it does not list in
    its group's `hides:` (a phrase that means something else: "rules out", "de acuerdo con")."""
    hides = {id(e): g.hides for g in lex.groups if g.kind == "context" for e in g.entries}
    for c, g in context_conflicts(lex):
        if g.key not in hides.get(id(c), ()):
            raise LexiconError(
                f"{c.source}: context term {c.term!r} contains the {g.kind} term {g.term!r}"
                f" ({g.source}), and the longer context match hides it. Shorten the context"
                f" term so that it ends before {g.term!r}; or, if the phrase means something"
                f' else ("rules out" is no rule), add {g.term!r} to the group\'s `hides:`'
            )


def load_lexicon(extra: Sequence[Path] = (), *, builtin: Iterable[Path] | None = None) -> Lexicon:
    """Read the shipped files (char maps first, so that terms in any file are folded alike),
    then the user's extra files in the order given."""
    files = [*(builtin_files() if builtin is None else builtin), *map(Path, extra)]
    docs = [(p, read_yaml(p)) for p in files]
    lex = Lexicon()
    for p, data in docs:
        if isinstance(data, dict) and "char_map" in data:
            _load_char_map(lex, data["char_map"], str(p))
    for p, data in docs:
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "char_map"}
        parse_lexicon_data(lex, data, str(p))
    check_context_rule(lex)
    return lex
