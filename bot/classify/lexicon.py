"""Lexicon files: YAML data -> validated, flattened entries ready for the matcher.

Every file in bot/classify/data/ and every user file has the same format (see data/README.md):
a mapping of optional sections, each a list of *groups*; a group names some surface forms
(`terms`) and what a match means (weight, topics, jurisdiction...). Files are merged by
appending their groups, so a user file can add terms, negatives, institutions or instruments
without repeating the shipped data. Each group also has an `id` and `examples:` headlines
(`lexicon check` and tests run them); terms may be patterns ("H.R. <number>") and weights
named levels (WEIGHT_LEVELS). The records live in entries.py, the folding of terms and
texts in folding.py, the YAML reader in yamlfile.py and the context rule in context_rule.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.classify.context_rule import check_context_rule
from bot.classify.entries import Entry, Group, Lexicon, LexiconError
from bot.classify.folding import base_char_map, is_wide, lower_same_length
from bot.classify.yamlfile import load_yaml
from bot.lang import normalise_language
from bot.verdict import TOPICS

DATA_DIR = Path(__file__).parent / "data"

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


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"{path}: cannot read lexicon file: {exc}") from None
    try:
        return load_yaml(text)
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
    check_context_rule(lex)
    return lex
