"""One pass over the text with an Aho-Corasick automaton, then the checks a substring match
needs to be a real mention: word boundaries for Latin-script terms, exact case for short
acronyms, and longest-match-wins so that "Star Alliance" shadows "alliance" and "Colorado AI
Act" shadows "AI Act"."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from bot.classify.lexicon import Entry, Lexicon, base_char_map, is_word_char, lower_same_length

# A sentence ends after a lower-case letter, digit or closing mark plus . ! ? ; (so "U.S." and
# "Gen. AI" initials do not split), or at CJK sentence punctuation.
_SENTENCE_END = re.compile(r"(?<=[a-z0-9\)\]\"'%][.!?;])\s+|(?<=[。！？；!?])")


_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff]")
_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u4e00-\u9fff]")


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    start: int  # offsets into the field's own text
    end: int
    field: str  # "title" | "summary"
    segment: int  # 0 = title, 1.. = summary sentences
    text: str  # the span as it stands in the item


class Matcher:
    def __init__(self, lexicon: Lexicon) -> None:
        self.char_map = {**base_char_map(), **lexicon.char_map}
        by_key: dict[str, list[Entry]] = {}
        for e in lexicon.entries:
            by_key.setdefault(e.key, []).append(e)
        self._automaton = ahocorasick.Automaton()
        for key, entries in by_key.items():
            self._automaton.add_word(key, tuple(entries))
        if by_key:
            self._automaton.make_automaton()
        self._empty = not by_key

    def normalise(self, text: str) -> tuple[str, str]:
        """(folded, lower-cased folded): both keep the original's offsets."""
        folded = text.translate(self.char_map)
        return folded, lower_same_length(folded)

    def scan(self, title: str, summary: str, lang: str | None = None) -> list[Hit]:
        title = title.replace("\n", " ")
        sep = "\n"
        joined = title + sep + summary
        folded, low = self.normalise(joined)
        n_title = len(title)
        sum_start = n_title + len(sep)
        # Sentence starts inside the summary, as offsets into `joined`.
        starts = [sum_start]
        for m in _SENTENCE_END.finditer(folded, sum_start):
            if m.end() < len(folded):
                starts.append(m.end())
        raw: list[tuple[int, int, Entry]] = []
        if lang is None:
            lang = guess_script_language(folded)
        if not self._empty:
            for end_idx, entries in self._automaton.iter(low):
                end = end_idx + 1
                for e in entries:
                    if e.langs and lang not in e.langs:
                        continue
                    start = end - len(e.key)
                    if e.left and start > 0 and is_word_char(folded[start - 1]):
                        continue
                    if e.right and end < len(folded) and is_word_char(folded[end]):
                        continue
                    if e.case and folded[start:end] != e.term:
                        continue
                    raw.append((start, end, e))
        # Longest match wins: drop any match inside a longer one (same span: keep all).
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
        kept: list[Hit] = []
        max_end = -1
        last_span = (-1, -1)
        for start, end, e in raw:
            if end <= max_end and (start, end) != last_span:
                continue
            if end > max_end:
                max_end = end
            last_span = (start, end)
            if start < n_title:
                hit = Hit(e, start, end, "title", 0, joined[start:end])
            else:
                seg = bisect.bisect_right(starts, start)
                hit = Hit(e, start - sum_start, end - sum_start, "summary", seg, joined[start:end])
            kept.append(hit)
        return kept


def guess_script_language(text: str) -> str | None:
    """Only what the script tells for sure: Hangul -> ko, kana -> ja, other CJK -> zh."""
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    return None


def sentence_count(hits: Sequence[Hit]) -> int:
    return max((h.segment for h in hits), default=0)
