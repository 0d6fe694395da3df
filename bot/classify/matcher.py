"""One pass over the text with an Aho-Corasick automaton, then the checks a substring match
needs to be a real mention: word boundaries for Latin-script terms, exact case for short
acronyms, and longest-match-wins so that "Star Alliance" shadows "alliance" and "Colorado AI
Act" shadows "AI Act".

This runs once per feed item and must stay cheap (tens of microseconds): the work per match is
kept to a few tuple operations, and everything that can be decided per lexicon key is decided
when the automaton is built."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import ahocorasick_rs

from bot.classify.entries import Entry, Lexicon
from bot.classify.folding import FINAL_SIGMA, SIGMA, base_char_map, lower_same_length

# A sentence ends after a lower-case letter or closing mark plus . ! ? ; (so "U.S." and
# "Gen. AI" initials do not split), after a year or a longer number plus a period, or at CJK
# sentence punctuation. Titles ("Gov. Gavin Newsom", "Sen. Ted Cruz") and German ordinals
# ("am 2. August") do not end one. The pattern opens with one character set so that the regex
# engine jumps from candidate to candidate instead of trying a lookbehind at every character.
_SENTENCE_END = re.compile(
    r"[.!?;。！？；](?:"
    r"(?<=[a-z\)\]\"'%][.!?;])(?<!\bGov\.)(?<!\bSen\.)(?<!\bRep\.)(?<!\bMr\.)(?<!\bMs\.)"
    r"(?<!\bMrs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bJr\.)(?<!\bvs\.)(?<!\bNo\.)(?<!\bInc\.)"
    r"(?<!\bCorp\.)(?<!\bLtd\.)(?<!\bCo\.)(?<!\bProf\.)\s+"
    r"|(?<=\d\d\d[.!?;])\s+|(?<=\d[!?;])\s+|(?<=[。！？；!?]))"
)
# The characters a sentence end starts with (the pattern's first set), those that ASCII and
# Latin-1 text can hold first.
_SENTENCE_MARKS = ".!?;。！？；"
_LATIN_MARKS = ".!?;"


def _sentence_ends(text: str, lo: int, hi: int, marks: str) -> list[int]:
    """The ends of _SENTENCE_END's matches in text[lo:hi], in order: str.find jumps to the
    few punctuation marks much faster than the regex scans for its first character set, and
    the pattern is tried at each. (Its matches are a mark plus spaces, so they never overlap
    and finditer would find the same.)"""
    found = []
    find = text.find
    for mark in marks:
        i = find(mark, lo, hi)
        while i >= 0:
            found.append(i)
            i = find(mark, i + 1, hi)
    if len(found) > 1:
        found.sort()
    ends = []
    match = _SENTENCE_END.match
    for i in found:
        m = match(text, i, hi)
        if m is not None:
            ends.append(m.end())
    return ends


_SURROGATE = re.compile(r"[\ud800-\udfff]")
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
    rule: Any = None  # what the matcher's owner compiled from `entry` (see Matcher.__init__)


# What Matcher.hits returns: a Hit's fields as a plain tuple, several times cheaper to build.
RawHit = tuple[Entry, int, int, str, int, str, Any]

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
    # full-width punctuation of Chinese and Japanese text
    ("\uff0c", ","),
    ("\uff1a", ":"),
    ("\uff08", "("),
    ("\uff09", ")"),
    ("\uff1b", ";"),
    ("\uff01", "!"),
    ("\uff1f", "?"),
    ("\u3000", " "),
)
_WIDE_TEXT = re.compile("[\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef]")
# folding.is_wide() as a pattern: one search per key instead of a call per character.
_WIDE_CHAR = re.compile(
    "[\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)
# Runs of non-CJK text (linear-time pattern) and the test that a run holds a letter.
_NON_WIDE_RUN = re.compile("[^\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef]+")
_LETTER = re.compile(r"[^\W\d_]")
# The "word view" of a text: every character that cannot be part of a word becomes a space,
# so that Latin-script keys padded with spaces (" ai ") match whole words only, inside the
# automaton, instead of being found in "said" and rejected one by one in Python. Text in the
# Latin-1 range (English, most of es/fr/de/pt/it) goes through bytes.translate, a C loop over
# a 256-byte table; the few characters beyond it ("…", "€", "œ") are patched in afterwards.
_VIEW_BYTES = bytes(c if chr(c).isalnum() else 32 for c in range(256))
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")
# ... and in CJK text, where the wide characters become spaces too, the characters to patch
# are those beyond Latin-1 that are not wide (Cyrillic, Greek, astral CJK).
_BEYOND_NOT_WIDE = re.compile("[^\x00-\xff\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef]")
# Combining marks inside words: Devanagari and other Indic vowel signs and viramas (every
# character of U+0900-U+0DFF but the dandas, which end sentences), Arabic and Hebrew vowel
# points, Thai vowels and tones, combining diacritics. They are not \w, but "बैन" (ban) is not
# "बन" (made): a word keeps its marks.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0900-\u0963\u0966-\u0dff\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u1dc0-\u1dff\u20d0-\u20f0"
)
_MARK = re.compile(f"[{_MARKS}]")
_NON_WORD = re.compile(f"[^\\w {_MARKS}]|_")  # the general case: every non-word character but space
_MAX_PATCHES = 12  # beyond this many characters to patch, the regex is cheaper


def _patched(text: str, view: str, beyond: re.Pattern[str]) -> str:
    """`view` with the letters and digits among `beyond`'s matches put back."""
    parts = []
    prev = 0
    for m in beyond.finditer(text):
        i = m.start()
        if text[i].isalnum() or _MARK.match(text[i]) is not None:
            parts.append(view[prev:i])
            parts.append(text[i])
            prev = i + 1
    if not parts:
        return view
    parts.append(view[prev:])
    return "".join(parts)


def word_view(text: str) -> str:
    """`text` with every character that is not a letter or digit replaced by a space."""
    if text.isascii():
        return text.encode("ascii").translate(_VIEW_BYTES).decode("ascii")
    if len(_BEYOND_LATIN1.findall(text)) > _MAX_PATCHES:
        return _NON_WORD.sub(" ", text)
    # Unencodable characters become "?", then a space: right for "…", patched for letters.
    view = text.encode("latin-1", "replace").translate(_VIEW_BYTES).decode("latin-1")
    return _patched(text, view, _BEYOND_LATIN1)


def latin_view(text: str) -> str:
    """The word view of CJK text for the Latin automaton: wide characters are spaces as well,
    so that "AI" in "政府AI法" is a word. (Matches that would span a wide character are
    rejected by the caller.)"""
    view = text.encode("latin-1", "replace").translate(_VIEW_BYTES).decode("latin-1")
    return _patched(text, view, _BEYOND_NOT_WIDE)


_new = tuple.__new__  # builds a Candidates without the Python-level NamedTuple constructor

# Script classes of a text, as _normalise tells them.
_ASCII, _LATIN1, _OTHER = 0, 1, 2

# A match in `joined` (title + "\n" + summary) of one entry: (start, -end, seq, rule), where
# `rule` is what compile_rule made of the entry (the entry itself without compile_rule). The
# negative end and the sequence number make a plain sort put matches in text order, longest
# first, and keep ties (entries sharing a span) in lexicon order.
Span = tuple[int, int, int, Any]


class Candidates(NamedTuple):
    spans: list[Span]  # sorted; the longest-match rule is left to the reader (see hits())
    joined: str
    n_title: int  # spans starting before this are in the title
    sum_start: int  # offset of the summary in `joined`
    starts: list[int]  # sentence starts in `joined`; a span's segment is bisect_right


# What a Latin key's match means, by the key's index: (the left pad minus one, the right pad
# plus one: a match at [s, e) of the view is the text's [s + lpad, e - rpad), the view having a
# space in front; the rule when the key has one entry and no flags, flags, entries, rules).
# Flags: bit 0, some entry needs a per-item test (language, exact case); the bits above, how
# the match is checked in CJK text (see _fits_fragment). Most keys have one entry and no flags:
# one tuple to build per match.
_LatinValue = tuple[int, int, Any, int, tuple[Entry, ...], tuple[Any, ...]]
# ... and a wide key's: (the rule when one entry and nothing to check, the rules when nothing
# to check, (languages, rule) when one entry counts in some languages only and nothing else is
# to check (a local place name: 美国 in zh), ((need_left, need_right, entries, rules,
# checked), ...)).
_WideGroup = tuple[bool, bool, tuple[Entry, ...], tuple[Any, ...], bool]
_WideValue = tuple[
    Any, tuple[Any, ...] | None, tuple[tuple[str, ...], Any] | None, tuple[_WideGroup, ...]
]
# cjk_test bits: the key holds a space inside (a wide character there would split it), at its
# start or end (a wide character may stand there: a fragment's edge), or no letter at all
# (such keys only count in a fragment that holds a letter).
_INNER_SPACE, _LEAD_SPACE, _TRAIL_SPACE, _NO_LETTER = 1, 2, 4, 8


def _accept(
    entries: tuple[Entry, ...],
    rules: tuple[Any, ...],
    lang: str | None,
    folded: str,
    start: int,
    end: int,
) -> list[Any]:
    """The rules of the entries that count in this item (language, exact case)."""
    return [
        r
        for e, r in zip(entries, rules, strict=True)
        if (not e.langs or lang in e.langs) and (not e.case or folded[start:end] == e.term)
    ]


class Matcher:
    def __init__(
        self, lexicon: Lexicon, compile_rule: Callable[[Entry], Any] | None = None
    ) -> None:
        """`compile_rule` turns each entry into whatever its owner wants handed back with every
        hit (`Hit.rule`), so that the classifier reads precomputed values per hit."""
        self.char_map = {**base_char_map(), **lexicon.char_map}
        # Runs of characters to fold: translating only these is much cheaper than translating
        # the whole text with a table of ~1,500 characters.
        self._table_re = re.compile(
            "[" + "".join(re.escape(chr(c)) for c in sorted(self.char_map)) + "]+"
            if self.char_map
            else "(?!)"
        )
        table = self.char_map
        self._fold_run: Callable[[re.Match[str]], str] = lambda m: m.group().translate(table)
        # ASCII characters the map folds (the backtick): the only ones to look for in ASCII text.
        self._ascii_keys = tuple(chr(c) for c in self.char_map if c < 128)
        # The map's Latin-1 part as a bytes.translate table, if it stays within Latin-1.
        latin1 = [self.char_map.get(c, chr(c)) for c in range(256)]
        self._latin1_fold: bytes | None = (
            "".join(latin1).encode("latin-1")
            if all(len(x) == 1 and ord(x) < 256 for x in latin1)
            else None
        )
        latin: dict[str, list[Entry]] = {}
        wide: dict[str, dict[tuple[bool, bool], list[Entry]]] = {}
        for e in lexicon.entries:
            if _WIDE_CHAR.search(e.key):
                bucket = wide.setdefault(e.key, {}).setdefault((e.left, e.right), [])
            else:
                view = word_view(e.key)
                padded = (" " if e.left else "") + view + (" " if e.right else "")
                bucket = latin.setdefault(padded, [])
            if not any(_same(e, other) for other in bucket):
                bucket.append(e)
        rules: dict[int, Any] = {}
        self._entry_of: dict[int, Entry] = {}  # id(rule) -> entry, for hits()

        def group_of(bucket: list[Entry]) -> tuple[tuple[Entry, ...], tuple[Any, ...], bool]:
            entries = tuple(_merge_places(bucket))
            for e in entries:
                if id(e) not in rules:
                    rules[id(e)] = compile_rule(e) if compile_rule else e
                    self._entry_of[id(rules[id(e)])] = e
            checked = any(e.langs or e.case for e in entries)
            return entries, tuple(rules[id(e)] for e in entries), checked

        # Overlapping search: every key that matches, as (key index, start, end) in characters.
        self._latin: Callable[..., list[tuple[int, int, int]]] | None = None
        self._wide: Callable[..., list[tuple[int, int, int]]] | None = None
        self._latin_values: list[_LatinValue] = []
        self._wide_values: list[_WideValue] = []
        if latin:
            keys = []
            for padded, entries in latin.items():
                lp = 1 if padded.startswith(" ") and entries[0].left else 0
                rp = 1 if padded.endswith(" ") and entries[0].right else 0
                group, group_rules, checked = group_of(entries)
                span = padded[lp : len(padded) - rp]
                cjk_test = (
                    (_INNER_SPACE if " " in span.strip(" ") else 0)
                    | (_LEAD_SPACE if span.startswith(" ") else 0)
                    | (_TRAIL_SPACE if span.endswith(" ") else 0)
                    | (0 if _LETTER.search(span) else _NO_LETTER)
                )
                flags = (1 if checked else 0) | cjk_test << 1
                single = group_rules[0] if len(group_rules) == 1 and not flags else None
                keys.append(padded)
                self._latin_values.append((lp - 1, rp + 1, single, flags, group, group_rules))
            self._latin = ahocorasick_rs.AhoCorasick(keys).find_matches_as_indexes
        if wide:
            wkeys = []
            for key, by_flags in wide.items():
                groups = tuple((lf, rf, *group_of(es)) for (lf, rf), es in by_flags.items())
                lf0, rf0, entries0, rules0, checked0 = groups[0]
                plain = len(groups) == 1 and not (lf0 or rf0 or checked0)
                simple = rules0 if plain else None
                single = rules0[0] if plain and len(rules0) == 1 else None
                by_lang = (
                    (entries0[0].langs, rules0[0])
                    if len(groups) == 1
                    and not (lf0 or rf0)
                    and len(entries0) == 1
                    and entries0[0].langs
                    and not entries0[0].case
                    else None
                )
                wkeys.append(key)
                self._wide_values.append((single, simple, by_lang, groups))
            self._wide = ahocorasick_rs.AhoCorasick(wkeys).find_matches_as_indexes

    def normalise(self, text: str) -> tuple[str, str]:
        """(folded, lower-cased folded): both keep the original's offsets."""
        folded, low, _ = self._normalise(text)
        return folded, low

    def _normalise(self, text: str) -> tuple[str, str, int]:
        """normalise() plus the text's script class: _ASCII, _LATIN1 (every character below
        U+0100, no wide ones) or _OTHER. ASCII and Latin-1 text, most of it, fold through
        bytes.translate; the regex over the whole character map runs only for the rest."""
        if not text.isascii():
            folded = self._latin1_folded(text)
            if folded is None:
                for a, b in _QUICK_FOLD:
                    if a in text:
                        text = text.replace(a, b)
                # Curly quotes and dashes are often all there is beyond Latin-1 ("Europe’s
                # AI Act – ..."): with them folded, the text takes the quick way after all.
                if not text.isascii():
                    folded = self._latin1_folded(text)
                    if folded is None:
                        text = self._table_re.sub(self._fold_run, text)
                        # lower_same_length(), inlined for the common case
                        low = text.lower()
                        if len(low) != len(text):
                            low = lower_same_length(text)
                        elif FINAL_SIGMA in low:
                            low = low.replace(FINAL_SIGMA, SIGMA)
                        return text, low, _OTHER
            if folded is not None:
                low = folded.lower()
                return (
                    folded,
                    low if len(low) == len(folded) else lower_same_length(folded),
                    _LATIN1,
                )
        for a in self._ascii_keys:
            if a in text:
                text = text.translate(self.char_map)
                return text, lower_same_length(text), _OTHER
        return text, text.lower(), _ASCII

    def _latin1_folded(self, text: str) -> str | None:
        """`text` folded through bytes.translate, or None: a character beyond Latin-1 (or a
        character map that folds into characters beyond it)."""
        if self._latin1_fold is None:
            return None
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            return None
        return data.translate(self._latin1_fold).decode("latin-1")

    @staticmethod
    def _fits_fragment(low: str, start: int, end: int, test: int) -> bool:
        """Would a match of a Latin key at [start, end) of CJK text be found inside one run of
        non-wide characters (a fragment, padded with a space on each side)? Only keys with
        spaces or without letters need asking."""
        if test & (_INNER_SPACE | _LEAD_SPACE | _TRAIL_SPACE):
            lo = start + 1 if test & _LEAD_SPACE else start
            hi = end - 1 if test & _TRAIL_SPACE else end
            if lo < hi and _WIDE_TEXT.search(low, max(lo, 0), hi):
                return False
        if test & _NO_LETTER:
            pos = start + 1 if test & _LEAD_SPACE else start
            for m in _NON_WIDE_RUN.finditer(low):
                if m.start() <= pos < m.end():
                    return _LETTER.search(m.group()) is not None
            return False
        return True

    def scan(self, title: str, summary: str, lang: str | None = None) -> list[Hit]:
        """Every accepted match in the item, in the order of the text."""
        return [Hit._make(h) for h in self.hits(title, summary, lang)]

    def hits(self, title: str, summary: str, lang: str | None = None) -> list[RawHit]:
        """`scan` as plain tuples in the order of Hit's fields."""
        c = self.candidates(title, summary, lang)
        out: list[RawHit] = []
        entry_of = self._entry_of
        max_end = last_start = last_end = -1
        for start, neg_end, _, rule in c.spans:
            end = -neg_end
            # Longest match wins: drop a match inside a longer one (same span: keep all).
            if end <= max_end and (start != last_start or end != last_end):
                continue
            if end > max_end:
                max_end = end
            last_start, last_end = start, end
            text = c.joined[start:end]
            e = entry_of[id(rule)]
            if start < c.n_title:
                out.append((e, start, end, "title", 0, text, rule))
            else:
                seg = bisect.bisect_right(c.starts, start)
                out.append((e, start - c.sum_start, end - c.sum_start, "summary", seg, text, rule))
        return out

    def candidates(self, title: str, summary: str, lang: str | None = None) -> Candidates:
        """The matches as spans sorted by position, with what it takes to turn them into
        hits. A span inside a longer one is still there: the reader drops it, as hits()
        does (the classifier's hot loop reads candidates directly, in one pass)."""
        if "\n" in title:
            title = title.replace("\n", " ")
        joined = title + "\n" + summary
        folded, low, script = self._normalise(joined)
        n_title = len(title)
        sum_start = n_title + 1
        n = len(folded)
        has_wide = script == _OTHER and _WIDE_TEXT.search(low) is not None
        if lang is None:
            lang = guess_script_language(folded) if has_wide else None
        raw: list[Span] = []
        append = raw.append
        if self._latin is not None:
            values = self._latin_values
            # In CJK text, wide characters are spaces in the view: one pass finds "AI",
            # "DeepSeek", "OpenAI" between them.
            if script == _OTHER:
                view = latin_view(low) if has_wide else word_view(low)
            elif script == _LATIN1:
                view = low.encode("latin-1").translate(_VIEW_BYTES).decode("latin-1")
            else:
                view = low.encode("ascii").translate(_VIEW_BYTES).decode("ascii")
            view = " " + view + " "
            for key, vs, ve in self._latin(view, overlapping=True):
                lpad, rpad, single, flags, entries, rules = values[key]
                if single is not None:
                    append((vs + lpad, rpad - ve, len(raw), single))
                    continue
                start = vs + lpad
                end = ve - rpad
                if start < n_title < end:
                    continue  # a key with a space across the title's end ("EU" + "\nKI-Gesetz")
                if flags > 1 and has_wide and not self._fits_fragment(low, start, end, flags >> 1):
                    continue
                if flags & 1:
                    if len(entries) == 1:  # the usual case: one acronym ("AI", "EU", "Act")
                        e = entries[0]
                        if (e.langs and lang not in e.langs) or (
                            e.case and folded[start:end] != e.term
                        ):
                            continue
                        append((start, -end, len(raw), rules[0]))
                    else:
                        for r in _accept(entries, rules, lang, folded, start, end):
                            append((start, -end, len(raw), r))
                    continue
                for r in rules:
                    append((start, -end, len(raw), r))
        if has_wide and self._wide is not None:
            wvalues = self._wide_values
            try:
                found = self._wide(low, overlapping=True)
            except UnicodeEncodeError:  # a lone surrogate (from JSON "\ud800"): not a character
                found = self._wide(_SURROGATE.sub("\ufffd", low), overlapping=True)
            for key, start, end in found:
                single, simple, by_lang, groups = wvalues[key]
                if single is not None:
                    append((start, -end, len(raw), single))
                    continue
                if simple is not None:
                    for r in simple:
                        append((start, -end, len(raw), r))
                    continue
                if by_lang is not None:
                    if lang in by_lang[0]:
                        append((start, -end, len(raw), by_lang[1]))
                    continue
                left_ok = right_ok = True
                if start:
                    # A key that opens with a Latin letter needs a word start: not a letter
                    # before it, nor Hangul glued to it ("오픈AI 전략적 제휴" is OpenAI, not
                    # "AI 전략"; Korean spaces its words, Chinese and Japanese do not).
                    c = folded[start - 1]
                    left_ok = not (
                        c.isalnum()
                        and (c < "\u1100" or "\u1e00" <= c <= "\u1eff" or "\uac00" <= c <= "\ud7a3")
                    )
                if end < n:
                    c = folded[end]
                    right_ok = not (c.isalnum() and (c < "\u1100" or "\u1e00" <= c <= "\u1eff"))
                for need_left, need_right, entries, rules, checked in groups:
                    if (need_left and not left_ok) or (need_right and not right_ok):
                        continue
                    for r in (
                        _accept(entries, rules, lang, folded, start, end) if checked else rules
                    ):
                        append((start, -end, len(raw), r))
        if not raw:
            return _new(Candidates, ([], joined, n_title, sum_start, [sum_start]))
        raw.sort()  # by start, then longest first; seq keeps rules out of comparisons
        # Sentence starts inside the summary, as offsets into `joined`. Sentences after the
        # last match do not matter: the search stops there (a match cut short by the stop
        # ends past the last start, so it counts for no match).
        starts = [sum_start]
        last = raw[-1][0]
        if last >= sum_start:
            marks = _SENTENCE_MARKS if script == _OTHER else _LATIN_MARKS
            starts += _sentence_ends(folded, sum_start, last + 1, marks)
            if starts[-1] >= n:
                starts.pop()  # the end of the text starts no sentence
        return _new(Candidates, (raw, joined, n_title, sum_start, starts))


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
        and a.generic == b.generic
        and a.from_actor == b.from_actor
        and a.near == b.near
        and a.scope == b.scope
    )


def _merge_places(bucket: list[Entry]) -> list[Entry]:
    """One surface form naming the same code twice ("China" the country, "china" Spanish for
    Chinese) keeps only its strongest reading, so evidence and scores count it once. So does
    a word that several languages' groups list with the same meaning and different weights
    ("tribunal" in es, pt and fr, "multa" in es and pt): one word, one piece of evidence."""
    best: dict[tuple[object, ...], Entry] = {}
    out: list[Entry] = []
    for e in bucket:
        if e.kind != "jurisdiction":
            k = _meaning(e)
            i = best.get(k)
            if i is None:
                best[k] = e
                out.append(e)
            elif e.weight > i.weight:
                best[k] = e
                out[out.index(i)] = e
            continue
        k = ("place", e.jurisdictions, e.case, e.term if e.case else "", e.langs)
        if k not in best or e.weight > best[k].weight:
            best[k] = e
    return out + [e for k, e in best.items() if k[0] == "place"]


def _meaning(e: Entry) -> tuple[object, ...]:
    """What an entry says, its weight aside (see _same)."""
    return (
        e.kind,
        e.case,
        e.term if e.case else "",
        e.topics,
        e.jurisdictions,
        e.needs_actor,
        e.ai,
        e.label,
        e.ident,
        e.langs,
        e.generic,
        e.from_actor,
        e.near,
        e.scope,
        e.unless_actor,
    )


def guess_script_language(text: str) -> str | None:
    """Only what the script tells for sure: Hangul -> ko, kana -> ja, other CJK -> zh."""
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    return None
