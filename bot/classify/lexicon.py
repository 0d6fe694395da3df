"""Lexicon files: YAML data -> validated, flattened entries ready for the matcher.

Every file in bot/classify/data/ and every user file has the same format (see data/README.md):
a mapping of optional sections, each a list of *groups*; a group names some surface forms
(`terms`) and what a match means (weight, topics, jurisdiction...). Files are merged by
appending their groups, so a user file can add terms, negatives, institutions or instruments
without repeating the shipped data.
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


@dataclass
class Lexicon:
    entries: list[Entry] = field(default_factory=list)
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


def lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A handful of characters (e.g. U+0130) lower to two: keep those as they are.
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


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
        if s.strip("*"):
            out.append(s)
    return out


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
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LexiconError(f"{where}: expected a number, got {value!r}")
    return float(value)


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
    return Entry(
        kind=kind,
        term=term,
        key=lower_same_length(term),
        case=case,
        left=not left_star and is_word_char(term[0]),
        right=not right_star and is_word_char(term[-1]),
        **kw,
    )


def _load_groups(
    lex: Lexicon, section: str, groups: list[Any], source: str, char_map: Mapping[int, str]
) -> None:
    kind = SECTION_KIND[section]
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
        elif "scope" in g:
            raise LexiconError(f"{where}.scope: only for the `context` section")
        for t in terms:
            lex.entries.append(
                make_entry(
                    kind,
                    t,
                    char_map,
                    case=case,
                    weight=weight,
                    topics=topics,
                    jurisdictions=codes,
                    needs_actor=bool(g.get("needs_actor", False)),
                    ai=ai,
                    label=str(g.get("name") or g.get("label") or ""),
                    ident=str(g.get("id") or ""),
                    langs=_langs(g.get("lang"), f"{where}.lang"),
                    generic=generic,
                    from_actor=from_actor,
                    near=near,
                    scope=scope,
                    unless_actor=unless_actor,
                    source=source,
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


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: cannot read lexicon file: {exc}") from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise LexiconError(
            f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None


def builtin_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.yaml"))


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
    return lex
