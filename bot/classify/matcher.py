"""One pass over the text with an Aho-Corasick automaton, then the checks a substring match
needs to be a real mention: word boundaries for Latin-script terms, exact case for short
acronyms, and longest-match-wins so that "Star Alliance" shadows "alliance" and "Colorado AI
Act" shadows "AI Act"."""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

import ahocorasick

from bot.classify.lexicon import Entry, Lexicon, base_char_map, is_wide, lower_same_length

# A sentence ends after a lower-case letter, digit or closing mark plus . ! ? ; (so "U.S." and
# "Gen. AI" initials do not split), or at CJK sentence punctuation.
_SENTENCE_END = re.compile(r"(?<=[a-z0-9\)\]\"'%][.!?;])\s+|(?<=[。！？；!?])")


_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff]")
_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u4e00-\u9fff]")


class Hit(NamedTuple):
    """One accepted match (a tuple: created ~20 times per item, so it must be cheap)."""

    entry: Entry
    start: int  # offsets into the field's own text
    end: int
    field: str  # "title" | "summary"
    segment: int  # 0 = title, 1.. = summary sentences
    text: str  # the span as it stands in the item


# Characters that need folding in almost every news text are replaced with str.replace (fast
# C loops); the translate table (full-width forms, traditional Chinese, user char maps) runs
# only when the text holds one of its characters.
_QUICK_FOLD = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2013", "-"),
    ("\u2014", "-"),
    ("\u00a0", " "),
)
_WIDE_TEXT = re.compile("[\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef]")
# Runs of non-CJK text (linear-time pattern) and the test that a run holds a letter.
_NON_WIDE_RUN = re.compile("[^\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef]+")
_LETTER = re.compile(r"[^\W\d_]")
# The "word view" of a text: every character that cannot be part of a word becomes a space,
# so that Latin-script keys padded with spaces (" ai ") match whole words only, inside the
# automaton, instead of being found in "said" and rejected one by one in Python.
_SPACE_TABLE = {o: " " for o in range(128) if not chr(o).isalnum()}  # ASCII fast path
_NON_WORD = re.compile(r"[\W_]")  # everything else, incl. Arabic/CJK punctuation


def word_view(text: str) -> str:
    """`text` with every character that is not a letter or digit replaced by a space."""
    if text.isascii():
        return text.translate(_SPACE_TABLE)
    return _NON_WORD.sub(" ", text)


# A Latin automaton value: (key length in the view, left pad, right pad, entries)
_LatinValue = tuple[int, int, int, tuple[Entry, ...]]
# A wide automaton value: (key length in characters, ((need_left, need_right, entries), ...))
_WideValue = tuple[int, tuple[tuple[bool, bool, tuple[Entry, ...]], ...]]


class Matcher:
    def __init__(self, lexicon: Lexicon) -> None:
        self.char_map = {**base_char_map(), **lexicon.char_map}
        self._table_re = re.compile(
            "[" + "".join(re.escape(chr(c)) for c in sorted(self.char_map)) + "]"
            if self.char_map
            else "(?!)"
        )
        latin: dict[str, list[Entry]] = {}
        wide: dict[str, dict[tuple[bool, bool], list[Entry]]] = {}
        for e in lexicon.entries:
            if any(is_wide(c) for c in e.key):
                bucket = wide.setdefault(e.key, {}).setdefault((e.left, e.right), [])
            else:
                view = word_view(e.key)
                padded = (" " if e.left else "") + view + (" " if e.right else "")
                bucket = latin.setdefault(padded, [])
            if not any(_same(e, other) for other in bucket):
                bucket.append(e)
        self._latin: ahocorasick.Automaton | None = None
        self._wide: ahocorasick.Automaton | None = None
        if latin:
            self._latin = ahocorasick.Automaton()
            for padded, entries in latin.items():
                lp = 1 if padded.startswith(" ") and entries[0].left else 0
                rp = 1 if padded.endswith(" ") and entries[0].right else 0
                value: _LatinValue = (len(padded), lp, rp, tuple(_merge_places(entries)))
                self._latin.add_word(padded, value)
            self._latin.make_automaton()
        if wide:
            # Walked over UTF-8 bytes (spelled as latin-1 characters): a trie over a few
            # hundred byte values is much faster to walk than one over thousands of CJK
            # characters, and a whole-key match always starts on a character boundary.
            self._wide = ahocorasick.Automaton()
            for key, by_flags in wide.items():
                groups = tuple(
                    (lf, rf, tuple(_merge_places(es))) for (lf, rf), es in by_flags.items()
                )
                wvalue: _WideValue = (len(key), groups)
                self._wide.add_word(key.encode("utf-8").decode("latin-1"), wvalue)
            self._wide.make_automaton()

    def normalise(self, text: str) -> tuple[str, str]:
        """(folded, lower-cased folded): both keep the original's offsets."""
        for a, b in _QUICK_FOLD:
            if a in text:
                text = text.replace(a, b)
        if self._table_re.search(text):
            text = text.translate(self.char_map)
        return text, lower_same_length(text)

    def scan(self, title: str, summary: str, lang: str | None = None) -> list[Hit]:
        title = title.replace("\n", " ")
        joined = title + "\n" + summary
        folded, low = self.normalise(joined)
        n_title = len(title)
        sum_start = n_title + 1
        n = len(folded)
        has_wide = not low.isascii() and _WIDE_TEXT.search(low) is not None
        if lang is None:
            lang = guess_script_language(folded) if has_wide else None
        raw: list[tuple[int, int, int, Entry]] = []  # (start, -end, seq, entry)
        if self._latin is not None:
            # In CJK text only the Latin-script fragments ("AI", "DeepSeek", "OpenAI") need
            # the Latin automaton; elsewhere the whole text is one fragment.
            fragments = (
                [(m.start(), m.group()) for m in _NON_WIDE_RUN.finditer(low)]
                if has_wide
                else [(0, low)]
            )
            latin = self._latin
            for base, frag in fragments:
                if has_wide and not _LETTER.search(frag):
                    continue
                view = " " + word_view(frag) + " "
                for end_idx, (klen, lp, rp, entries) in latin.iter(view):
                    # view offset = text offset - base + 1 (the leading pad)
                    end = base + end_idx - rp
                    start = base + end_idx - klen + lp
                    for e in entries:
                        if e.langs and lang not in e.langs:
                            continue
                        if e.case and folded[start:end] != e.term:
                            continue
                        raw.append((start, -end, len(raw), e))
        if has_wide and self._wide is not None:
            data = low.encode("utf-8")
            # Matches come in order of their end: convert byte to character offsets
            # incrementally (each match ends on a character boundary).
            prev_b = prev_c = 0
            for end_b, (klen, groups) in self._wide.iter(data.decode("latin-1")):
                end = prev_c + len(data[prev_b : end_b + 1].decode("utf-8"))
                prev_b, prev_c = end_b + 1, end
                start = end - klen
                left_ok = True
                if start:
                    c = folded[start - 1]
                    left_ok = not (c.isalnum() and (c < "\u1100" or "\u1e00" <= c <= "\u1eff"))
                right_ok = True
                if end < n:
                    c = folded[end]
                    right_ok = not (c.isalnum() and (c < "\u1100" or "\u1e00" <= c <= "\u1eff"))
                for need_left, need_right, entries in groups:
                    if (need_left and not left_ok) or (need_right and not right_ok):
                        continue
                    for e in entries:
                        if e.langs and lang not in e.langs:
                            continue
                        if e.case and folded[start:end] != e.term:
                            continue
                        raw.append((start, -end, len(raw), e))
        if not raw:
            return []
        # Sentence starts inside the summary, as offsets into `joined`.
        starts = [sum_start]
        for m in _SENTENCE_END.finditer(folded, sum_start):
            if m.end() < n:
                starts.append(m.end())
        # Longest match wins: drop any match inside a longer one (same span: keep all).
        raw.sort()  # by start, then longest first; seq keeps entries out of comparisons
        kept: list[Hit] = []
        max_end = -1
        last_start = last_end = -1
        for start, neg_end, _, e in raw:
            end = -neg_end
            if end <= max_end and (start != last_start or end != last_end):
                continue
            if end > max_end:
                max_end = end
            last_start, last_end = start, end
            if start < n_title:
                kept.append(Hit(e, start, end, "title", 0, joined[start:end]))
            else:
                seg = bisect.bisect_right(starts, start)
                kept.append(
                    Hit(e, start - sum_start, end - sum_start, "summary", seg, joined[start:end])
                )
        return kept


def _same(a: Entry, b: Entry) -> bool:
    """Duplicates across languages ("Congress"/"congress", "decreto" in es/pt/it) count once."""
    return (
        a.kind == b.kind
        and a.case == b.case
        and (not a.case or a.term == b.term)
        and a.weight == b.weight
        and a.topics == b.topics
        and a.jurisdictions == b.jurisdictions
        and a.needs_actor == b.needs_actor
        and a.ai == b.ai
        and a.label == b.label
        and a.ident == b.ident
        and a.langs == b.langs
    )


def _merge_places(bucket: list[Entry]) -> list[Entry]:
    """One surface form naming the same code twice ("China" the country, "china" Spanish for
    Chinese) keeps only its strongest reading, so evidence and scores count it once."""
    best: dict[tuple[object, ...], Entry] = {}
    out: list[Entry] = []
    for e in bucket:
        if e.kind != "jurisdiction":
            out.append(e)
            continue
        k = (e.jurisdictions, e.case, e.term if e.case else "", e.langs)
        if k not in best or e.weight > best[k].weight:
            best[k] = e
    return out + list(best.values())


def guess_script_language(text: str) -> str | None:
    """Only what the script tells for sure: Hangul -> ko, kana -> ja, other CJK -> zh."""
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    return None
