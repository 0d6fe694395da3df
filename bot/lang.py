"""Language tags: the one normaliser for every language the bot takes from outside (feeds,
items, configuration, commands).

    normalise_language("pt-BR") == "pt"      normalise_language("fre") == "fr"
    normalise_language("zh-Hant-TW") == "zh" normalise_language("chi") == "zh"
    normalise_language("fil") == "fil"       normalise_language("Filipino") == "fil"

The answer is the ISO 639-1 code where the language has one, else its ISO 639-3 code (Filipino
has none in 639-1: "fil" is not Finnish), or None for what names no language. pycountry's
table of ISO 639-3 is loaded only for three-letter codes and names, which are rare.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ISO 639-1, every two-letter code (tests/test_lang.py checks it against pycountry): known
# without loading pycountry's table, which costs a tenth of a second.
_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
    hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky
    la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny
    oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg sh si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
# Codes withdrawn from ISO 639-1 that feeds still use, and Norwegian's two written standards
# (Bokmål, Nynorsk), taken as Norwegian: what language detection answers and people ask for.
_FOLDED = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "nb": "no", "nn": "no"}
# Names in the language itself that feeds write (English names are in pycountry's table).
_NATIVE_NAMES = {"français": "fr", "deutsch": "de", "español": "es"}
# A tag (BCP 47): a primary language subtag of two or three letters, then any subtags.
_TAG = re.compile(r"([a-z]{2,3})(?:-[a-z0-9]{1,8})*")


def normalise_language(tag: str | None) -> str | None:
    """The ISO 639 code of a language tag, code or name: 'en-US', 'EN_gb', 'eng', 'English'
    -> 'en'; 'fil' -> 'fil'; None for anything that names no language ('x', 'und', 'qqq')."""
    if not tag or not isinstance(tag, str):
        return None
    return _normalise(tag)


@lru_cache(maxsize=1024)
def _normalise(tag: str) -> str | None:
    t = tag.strip().lower().replace("_", "-")
    m = _TAG.fullmatch(t)
    if m is not None:
        primary = m.group(1)
        if len(primary) == 2:
            primary = _FOLDED.get(primary, primary)
            return primary if primary in ISO_639_1 else None
        return _from_table(alpha_3=primary) or _from_table(bibliographic=primary)
    if t in _NATIVE_NAMES:
        return _NATIVE_NAMES[t]
    if len(t) > 3 and t.replace(" ", "").isalpha():
        return _from_table(name=t)
    return None


def _from_table(**key: str) -> str | None:
    """pycountry's ISO 639-3 entry for `key` (alpha_3=, bibliographic= or name=) as a code:
    its two-letter one where it has one. Special codes (und, mul, zxx, mis) name no language."""
    try:
        import pycountry
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    try:
        lang = pycountry.languages.get(**key)
    except (KeyError, LookupError):
        return None
    if lang is None or getattr(lang, "scope", "") == "S":
        return None
    code = str(getattr(lang, "alpha_2", "") or lang.alpha_3)
    return _FOLDED.get(code, code)
