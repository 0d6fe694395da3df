"""Text folding shared by lexicon terms and the texts they are matched in: which characters
belong to a word, which scripts match as substrings, and the one-to-one foldings that keep
every offset (so evidence points at the text as written).
"""

from __future__ import annotations

import unicodedata


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
