"""Values people type in commands (jurisdictions, topics, languages): suggestions, autocomplete."""

from __future__ import annotations

import logging
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from bot.lang import normalise_language
from bot.verdict import TOPICS

log = logging.getLogger("policybot.commands")

MAX_CHOICES = 25  # Discord's (and our) autocomplete limit

# Names people use that ISO's list spells differently (or not at all).
_ALIASES: dict[str, str] = {
    "eu": "EU",
    "european union": "EU",
    "europe": "EU",
    "intl": "INTL",
    "international": "INTL",
    "global": "INTL",
    "un": "INTL",
    "united nations": "INTL",
    "oecd": "INTL",
    "g7": "INTL",
    "g20": "INTL",
    "usa": "US",
    "u.s.": "US",
    "america": "US",
    "united states of america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "britain": "GB",
    "great britain": "GB",
    "england": "GB",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "iran": "IR",
    "taiwan": "TW",
    "vietnam": "VN",
    "turkey": "TR",
    "uae": "AE",
    "czechia": "CZ",
    "czech republic": "CZ",
    "holland": "NL",
    "prc": "CN",
    "mainland china": "CN",
}

# Without pycountry, these still work (the jurisdictions AI-governance news is mostly about).
_FALLBACK_NAMES: dict[str, str] = {
    "US": "United States",
    "CN": "China",
    "GB": "United Kingdom",
    "JP": "Japan",
    "KR": "South Korea",
    "IN": "India",
    "CA": "Canada",
    "AU": "Australia",
    "BR": "Brazil",
    "DE": "Germany",
    "FR": "France",
    "IT": "Italy",
    "ES": "Spain",
    "NL": "Netherlands",
    "SG": "Singapore",
    "AE": "United Arab Emirates",
    "SA": "Saudi Arabia",
    "IL": "Israel",
    "CH": "Switzerland",
    "RU": "Russia",
    "TW": "Taiwan",
    "NZ": "New Zealand",
    "IE": "Ireland",
    "SE": "Sweden",
    "PL": "Poland",
    "MX": "Mexico",
    "ZA": "South Africa",
    "NG": "Nigeria",
    "KE": "Kenya",
    "ID": "Indonesia",
    "VN": "Vietnam",
    "TR": "Turkey",
    "UA": "Ukraine",
}


_POPULAR = frozenset(_FALLBACK_NAMES) | {"EU", "INTL"}


@dataclass(frozen=True, slots=True)
class Choice:
    name: str  # what people read
    value: str  # what the command receives


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", s).strip().casefold()


@lru_cache(maxsize=1)
def jurisdiction_names() -> dict[str, str]:
    """code -> display name, for EU, INTL and every ISO 3166-1 country."""
    names: dict[str, str] = {"EU": "European Union", "INTL": "International"}
    try:
        import pycountry

        for c in pycountry.countries:
            names[c.alpha_2] = getattr(c, "common_name", None) or c.name
    except ImportError:  # pragma: no cover - pycountry is optional
        names.update(_FALLBACK_NAMES)
    for code, name in _FALLBACK_NAMES.items():
        names.setdefault(code, name)
    # Shorter common names read better than "Korea, Republic of".
    names.update(
        {
            "KR": "South Korea",
            "RU": "Russia",
            "IR": "Iran",
            "TW": "Taiwan",
            "VN": "Vietnam",
            "GB": "United Kingdom",
            "US": "United States",
        }
    )
    return names


@lru_cache(maxsize=1)
def _jurisdiction_lookup() -> dict[str, str]:
    """folded name/code/alias -> code."""
    out: dict[str, str] = {}
    try:
        import pycountry

        for c in pycountry.countries:
            for attr in ("name", "official_name", "common_name", "alpha_3"):
                v = getattr(c, attr, None)
                if v:
                    out.setdefault(_fold(v), c.alpha_2)
    except ImportError:  # pragma: no cover
        pass
    for code, name in jurisdiction_names().items():
        out.setdefault(_fold(name), code)
        out[_fold(code)] = code
    for alias, code in _ALIASES.items():
        out[_fold(alias)] = code
    return out


@dataclass(frozen=True, slots=True)
class Resolved:
    value: str | None  # the canonical value, or None when unknown
    suggestions: tuple[str, ...] = ()  # "did you mean" (display form "Name (CODE)" or value)


def resolve_jurisdiction(text: str) -> Resolved:
    key = _fold(text)
    lookup = _jurisdiction_lookup()
    if key in lookup:
        return Resolved(lookup[key])
    names = jurisdiction_names()
    # Names only (3-letter codes make noisy neighbours); frequent jurisdictions win ties.
    candidates = [k for k in lookup if len(k) > 3]
    matches = process.extract(key, candidates, scorer=fuzz.ratio, limit=8, score_cutoff=70)
    matches.sort(key=lambda m: (-m[1], lookup[m[0]] not in _POPULAR))
    seen: list[str] = []
    for m, _score, _i in matches:
        code = lookup[m]
        label = f"{names.get(code, code)} ({code})"
        if label not in seen:
            seen.append(label)
    return Resolved(None, tuple(seen[:3]))


def resolve_topic(text: str) -> Resolved:
    key = _fold(text).replace("_", "-").replace(" ", "-")
    if key in TOPICS:
        return Resolved(key)
    # Plurals and near-misses: "export-control" -> "export-controls".
    matches = process.extract(key, list(TOPICS), scorer=fuzz.WRatio, limit=3, score_cutoff=60)
    return Resolved(None, tuple(m for m, _s, _i in matches))


def topic_label(topic: str) -> str:
    return topic.replace("-", " ").capitalize()


def resolve_language(text: str) -> Resolved:
    """A language code, tag or English name as its ISO 639 code (bot.lang)."""
    code = normalise_language(text)
    if code:
        return Resolved(code)
    return Resolved(None, ("en", "zh", "ja", "ko", "fr", "de"))


# -- time zones ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name, sorted; cached (available_timezones() walks the tz database)."""
    return tuple(sorted(zoneinfo.available_timezones()))


@lru_cache(maxsize=1)
def time_zones_by_folded() -> dict[str, str]:
    """casefolded zone name -> zone name ("europe/berlin" -> "Europe/Berlin")."""
    return {z.casefold(): z for z in time_zones()}


# -- instruments (named laws and policies) -----------------------------------------------------


def _inst_key(text: str) -> str:
    """ "EU AI Act", "eu-ai-act" and "eu_ai_act" are one key."""
    return re.sub(r"[\s_\-\u2010-\u2015]+", " ", _fold(text)).strip()


@dataclass(frozen=True, slots=True)
class Instruments:
    """The instruments a classifier tags. Verdicts hold their canonical names, so the
    subscriptions matched against them must hold those names too."""

    names: Mapping[str, str]  # id -> canonical name
    lookup: Mapping[str, str]  # _inst_key of an id, a name or an unambiguous term -> name


def instruments_of(lexicon: Any) -> Instruments:
    """The Instruments of a classify.lexicon.Lexicon (ids, names, and the terms that match
    them: "AI Act" -> "EU AI Act"); cached for the last lexicon asked about."""
    global _last_instruments
    cached = _last_instruments
    if cached is not None and cached[0] is lexicon:
        return cached[1]
    names: dict[str, str] = dict(getattr(lexicon, "instruments", None) or {})
    lookup: dict[str, str] = {}
    for ident, name in names.items():
        lookup[_inst_key(ident)] = name
        lookup.setdefault(_inst_key(name), name)
    by_term: dict[str, set[str]] = {}
    for e in getattr(lexicon, "entries", ()):
        if e.kind == "instrument" and e.label:
            by_term.setdefault(_inst_key(e.term), set()).add(e.label)
    for key, labels in by_term.items():
        if len(labels) == 1 and key not in lookup:  # a term shared by two says nothing
            lookup[key] = next(iter(labels))
    result = Instruments(names, lookup)
    _last_instruments = (lexicon, result)
    return result


_last_instruments: tuple[Any, Instruments] | None = None


@lru_cache(maxsize=1)
def _shipped_lexicon() -> Any:
    from bot.classify.lexicon import load_lexicon

    return load_lexicon()


def instrument_vocabulary(classifier: Callable[[], Any] | None = None) -> Instruments:
    """The instruments of the running classifier (extra lexicons included), else of the
    shipped lexicon. The first call may load YAML for a while: call it off the event loop."""
    lexicon = None
    if classifier is not None:
        try:
            lexicon = getattr(classifier(), "lexicon", None)
        except Exception:  # a broken classifier must not break subscribing or autocomplete
            log.exception("classifier unavailable for the instrument vocabulary")
    known = getattr(lexicon, "instruments", None)
    if not isinstance(known, Mapping) or not known:
        lexicon = _shipped_lexicon()
    return instruments_of(lexicon)


def resolve_instrument(text: str, vocab: Instruments) -> Resolved:
    """An instrument id, name or known term -> its canonical name; else suggestions."""
    key = _inst_key(text)
    if key in vocab.lookup:
        return Resolved(vocab.lookup[key])
    names = sorted(set(vocab.names.values()))
    matches = process.extract(
        key, names, scorer=fuzz.WRatio, processor=_inst_key, limit=3, score_cutoff=60
    )
    return Resolved(None, tuple(m for m, _s, _i in matches))


def _instrument_choices(p: str, vocab: Instruments) -> list[tuple[str, str]]:
    # Values are ids: short, and never holding the commas that separate list items (some
    # names do: "... on Safe, Secure, and Trustworthy AI").
    items = sorted(
        ((name, ident) for ident, name in vocab.names.items()), key=lambda c: _fold(c[0])
    )
    if not p:
        return items[:MAX_CHOICES]
    key = _inst_key(p)
    starts = [
        c for c in items if _inst_key(c[0]).startswith(key) or _inst_key(c[1]).startswith(key)
    ]
    contains = [c for c in items if c not in starts and key in _inst_key(c[0])]
    # A term typed ("KI-Verordnung", "AI Act") offers the instrument it names.
    named = vocab.lookup.get(key)
    first = [c for c in items if c[0] == named]
    out = first + [c for c in starts + contains if c not in first]
    if not out:
        out = [
            items[i]
            for _m, _s, i in process.extract(
                key, [_inst_key(c[0]) for c in items], scorer=fuzz.WRatio, limit=5, score_cutoff=60
            )
        ]
    return out[:MAX_CHOICES]


# -- autocomplete ------------------------------------------------------------------------------


def autocomplete(
    field: str, prefix: str, *, classifier: Callable[[], Any] | None = None
) -> list[tuple[str, str]]:
    """Up to 25 (name, value) choices for `field` ("jurisdiction(s)", "topic(s)" or
    "instrument(s)"; instruments come from `classifier`'s lexicon when given)."""
    p = _fold(prefix or "")
    f = field.rstrip("s").lower()
    if f == "instrument":
        return _instrument_choices(p, instrument_vocabulary(classifier))
    if f == "topic":
        items = [(topic_label(t), t) for t in TOPICS]
    elif f == "jurisdiction":
        items = [(f"{name} ({code})", code) for code, name in jurisdiction_names().items()]
        # EU and INTL first: they are the most asked-for after the big countries.
        items.sort(key=lambda c: (c[1] not in ("EU", "INTL"), c[0]))
    else:
        return []
    if not p:
        return items[:MAX_CHOICES]
    starts = [c for c in items if _fold(c[0]).startswith(p) or _fold(c[1]).startswith(p)]
    starts.sort(key=lambda c: c[1] not in _POPULAR)  # stable: alphabetical within each group
    contains = [c for c in items if c not in starts and p in _fold(c[0])]
    out = starts + contains
    if f == "jurisdiction":
        # An alias typed in full ("uk", "usa") should offer its country first.
        code = _jurisdiction_lookup().get(p)
        if code:
            hit = (f"{jurisdiction_names().get(code, code)} ({code})", code)
            out = [hit] + [c for c in out if c != hit]
    if not out:
        out = [
            items[i]
            for _m, _s, i in process.extract(
                p, [_fold(c[0]) for c in items], scorer=fuzz.WRatio, limit=5, score_cutoff=60
            )
        ]
    return out[:MAX_CHOICES]
