"""Language tags and detection for feed items.

Feeds often declare a language; when they do not we guess from the text. CJK scripts are
recognised from the characters themselves (reliable even on a six-character headline), other
text goes through py3langid restricted to the languages a policy-news bot is likely to see.
The answer is an ISO 639 code (639-1 where one exists), or None when we are not confident: a
wrong language is worse than none, because downstream filters trust it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from bot.lang import normalise_language

# Languages langid may answer with. A small set keeps short texts from being classified as
# some rarely seen language that happens to share a few n-grams.
DETECTABLE_LANGUAGES: tuple[str, ...] = (
    "ar", "bg", "bn", "ca", "cs", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "he",
    "hi", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "nl", "no", "pl", "pt", "ro",
    "ru", "sk", "sl", "sr", "sv", "ta", "th", "tr", "uk", "ur", "vi", "zh",
)  # fmt: skip

MIN_CONFIDENCE = 0.75  # normalised langid probability below which we answer None
# Languages so close that langid splits its confidence between them on a headline (Indonesian
# and Malay share most of their words): their probabilities are pooled, and the likelier one
# is the answer when the pool is confident.
_MALAY = frozenset({"id", "ms"})
_SIBLINGS: dict[str, frozenset[str]] = {"id": _MALAY, "ms": _MALAY}
MIN_LETTERS = 12  # fewer letters than this is too little for n-gram statistics


def normalise_language_tag(tag: str | None) -> str | None:
    """'en-US', 'EN_gb', 'eng', 'English' -> 'en'; 'fil' -> 'fil'; anything unrecognisable ->
    None (bot.lang.normalise_language: the one normaliser)."""
    return normalise_language(tag)


def _script_counts(text: str) -> tuple[int, int, int, int]:
    """(letters, hangul, kana, han) counts; only letters count, digits and punctuation do not."""
    letters = hangul = kana = han = 0
    for ch in text:
        o = ord(ch)
        if 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            hangul += 1
            letters += 1
        elif 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D:
            # the prolonged sound mark and middle dot are shared with Chinese usage rarely
            if ch not in "・ー":
                kana += 1
            letters += 1
        elif (
            0x4E00 <= o <= 0x9FFF
            or 0x3400 <= o <= 0x4DBF
            or 0x20000 <= o <= 0x2FA1F
            or 0xF900 <= o <= 0xFAFF
        ):
            han += 1
            letters += 1
        elif ch.isalpha():
            letters += 1
    return letters, hangul, kana, han


def cjk_language(text: str) -> str | None:
    """Answer ko/ja/zh when CJK characters make up a real share of the letters, else None."""
    letters, hangul, kana, han = _script_counts(text)
    cjk = hangul + kana + han
    if cjk < 2 or cjk * 10 < letters * 3:  # under 30 %: Latin text quoting a name
        return None
    if hangul and hangul >= kana:
        return "ko"
    if kana:
        return "ja"
    return "zh" if han else None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    # Loading the model takes most of a second: do it once, on first use.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(DETECTABLE_LANGUAGES))
    if hasattr(ident, "_full_model"):
        # Kept only to undo set_languages, which we never do: ~27 MB of weights freed.
        ident._full_model = (ident.nb_ptc, ident.nb_pc, ident.nb_classes)
    return ident


def detect_language(text: str) -> str | None:
    """Best-effort ISO 639-1 code for plain text, None if short or ambiguous."""
    if not text:
        return None
    text = unicodedata.normalize("NFC", text)
    cjk = cjk_language(text)
    if cjk:
        return cjk
    letters = sum(1 for ch in text if ch.isalpha())
    if letters < MIN_LETTERS:
        return None
    ident = _identifier()
    lang, conf = ident.classify(text)
    siblings = _SIBLINGS.get(lang)
    if siblings is not None and conf < MIN_CONFIDENCE:
        conf = sum(p for code, p in ident.rank(text) if code in siblings)
    if conf < MIN_CONFIDENCE or lang not in DETECTABLE_LANGUAGES:
        return None
    return str(lang)
