"""Language tags and detection for feed items.

Feeds often declare a language; when they do not we guess from the text. CJK scripts are
recognised from the characters themselves (reliable even on a six-character headline), other
text goes through py3langid restricted to the languages a policy-news bot is likely to see.
The answer is an ISO 639 code (639-1 where one exists), or None when we are not confident: a
wrong language is worse than none, because downstream filters trust it.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import lru_cache
from importlib import resources
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


_MODEL_LOCK = threading.Lock()
_model: Any = None


def _identifier() -> Any:
    """The langid model, built once per process whichever thread asks first (it takes most
    of a second and tens of megabytes: three threads racing once built three)."""
    global _model
    ident = _model
    if ident is None:
        with _MODEL_LOCK:
            if _model is None:
                _model = _load_model()
            ident = _model
    return ident


def _load_model() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    path = MODEL_DIR / MODEL_FILE
    parts = _read_model_arrays(path)
    if parts is None:  # another layout than the one read below: the library's own loader
        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    else:
        ptc, pc, classes, nextmove, row, out = parts
        ident = LanguageIdentifier(ptc, pc, classes, nextmove, out, norm_probs=True, tk_row=row)
        ident._rowbase = _buffer(row.astype("int64") << 8)
    ident.set_languages(list(DETECTABLE_LANGUAGES))
    if hasattr(ident, "_full_model"):
        # Kept only to undo set_languages, which we never do: ~27 MB of weights freed.
        ident._full_model = (ident.nb_ptc, ident.nb_pc, ident.nb_classes)
    return ident


def _buffer(arr: Any) -> memoryview:
    """A flat view of a numpy array that indexes to plain ints, as fast as an array.array."""
    return memoryview(arr).cast("B").cast(arr.dtype.char)


def _read_model_arrays(path: Any) -> tuple[Any, ...] | None:
    """The model's arrays (py3langid's npz inside LZMA), with the DFA tables kept as numpy
    arrays seen through memoryviews. The library's loader copies its 39 MB transition table
    into an array.array and its per-state tables into lists of ints: tens of MB more at the
    peak, and ~7 MB more for good. None when the file is not laid out as expected."""
    import lzma
    import shutil
    import tempfile

    import numpy as np

    with tempfile.TemporaryFile(suffix=".npz") as tmp:
        with lzma.open(path) as src:
            shutil.copyfileobj(src, tmp, length=1 << 20)
        tmp.seek(0)
        with np.load(tmp, allow_pickle=False) as data:
            if not {"ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat"} <= set(
                data.files
            ):
                return None
            nextmove = data["nextmove"]
            row = data["nextmove_row"]
            out = data["out_feat"]
            if nextmove.dtype.char not in "HI" or row.dtype.char not in "HI":
                return None
            return (
                np.asarray(data["ptc"]),
                np.asarray(data["pc"]),
                data["classes"].tolist(),
                _buffer(np.ascontiguousarray(nextmove)),
                row,
                _buffer(np.ascontiguousarray(out, dtype=np.int32)),
            )


def model_loaded() -> bool:
    """Whether this process has built the langid model (for tests and benchmarks)."""
    return _model is not None


# ----------------------------------------------------------------- a feed's usual language

# Letters of the scripts other than Latin that listed languages are written in.
_SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "cyrillic": ((0x400, 0x52F),),
    "arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "devanagari": ((0x900, 0x97F),),
}
_SCRIPT_OF = {"ru": "cyrillic", "uk": "cyrillic", "bg": "cyrillic", "ar": "arabic",
              "fa": "arabic", "ur": "arabic", "hi": "devanagari"}  # fmt: skip
_PUNCTUATION = "\"'.,;:!?()[]{}«»“”„‘’‹›—–-…/|*#%&+=<>@$~^`¿¡،؛؟।"
# Words of the text looked at: enough to settle it, and the same cost for every body.
_WORDS_MAX = 120
# Usual language confirmed by its function words: this many (one at least its alone), and
# this many times the words of other languages.
CONFIRM_MIN, CONFIRM_RATIO = 3, 3
# A text with no other language's function words at all keeps the usual language when it has
# this many words, every letter in that language's script (a list of names and nouns); for
# Latin-script languages, plain ASCII.
PLAIN_MIN_WORDS = 8


@lru_cache(maxsize=1)
def _function_words() -> dict[str, frozenset[str]]:
    """Word -> the languages (of bot/ingest/data/function_words.yaml) that use it a lot."""
    import yaml

    text = resources.files("bot.ingest").joinpath("data/function_words.yaml").read_text("utf-8")
    langs: dict[str, set[str]] = {}
    for lang, words in (yaml.safe_load(text) or {}).items():
        for word in str(words).split():
            langs.setdefault(word.lower(), set()).add(str(lang))
    return {w: frozenset(ls) for w, ls in langs.items()}


def _words(text: str) -> list[str]:
    return [w for w in (t.strip(_PUNCTUATION) for t in text.lower().split()[:_WORDS_MAX]) if w]


def _in_script(text: str, lang: str) -> bool:
    """Every letter of `text` is in the script `lang` is written in; for a language written
    in Latin letters, plain ASCII (accents and other marks tell languages apart: Turkish
    without a listed word, say)."""
    script = _SCRIPT_OF.get(lang)
    if script is None:
        return text.isascii()
    ranges = _SCRIPTS[script]
    for ch in text:
        if ch.isalpha() and not any(lo <= ord(ch) <= hi for lo, hi in ranges):
            return False
    return True


def confirms(text: str, usual: str) -> bool:
    """Whether `text` reads as its feed's usual language without asking the model: its words
    include that language's function words and few of another's, or (a list of names and
    nouns) no other language's at all and only letters of its script (ASCII for a language
    written in Latin letters). Languages without
    function words in the data file are never confirmed this way."""
    table = _function_words()
    mine = own = others = 0  # words of the usual language (`own`: of no other), of others
    words = _words(text)
    for w in words:
        langs = table.get(w)
        if langs is None:
            continue
        if usual in langs:
            mine += 1
            own += len(langs) == 1
        else:
            others += 1
    if mine >= CONFIRM_MIN and own and mine >= CONFIRM_RATIO * others:
        return True
    if others or len(words) < PLAIN_MIN_WORDS or usual not in _usual_candidates():
        return False
    return _in_script(text, usual)


@lru_cache(maxsize=1)
def _usual_candidates() -> frozenset[str]:
    return frozenset(lang for langs in _function_words().values() for lang in langs)


def detect_language(text: str, usual: str | None = None) -> str | None:
    """Best-effort ISO 639-1 code for plain text, None if short or ambiguous.

    `usual` is what the text's feed usually is (detected from its earlier entries): it is the
    answer when the text's script and words agree with it (`confirms`), without the n-gram
    model; otherwise, or without it, the model decides as before.
    """
    if not text:
        return None
    if not text.isascii():  # ASCII is NFC already, and holds no CJK
        text = unicodedata.normalize("NFC", text)
        cjk = cjk_language(text)
        if cjk:
            return cjk
    if usual is not None and usual not in ("zh", "ja", "ko") and confirms(text, usual):
        return usual
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
