"""The context rule, checked when a lexicon loads: a context term ("in breach of", "rules
out") must not contain a governance term unless its group says, in `hides:`, that it hides
that term on purpose; else the longer context match would hide real evidence.
"""

from __future__ import annotations

import re

from bot.classify.entries import Entry, Lexicon, LexiconError
from bot.classify.folding import is_word_char

# Kinds a context term must not contain: the longer context match would hide their evidence
# ("in breach of" would hide "breach"). A context term that is itself one of them is fine:
# matches of the same span are all kept.
_HIDDEN_BY_CONTEXT = ("governance", "ai_governance")


_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits (is_word_char in Latin text)
_WIDE = re.compile("[\u1100-\u11ff\u2e80-\ud7ff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")


def context_conflicts(lex: Lexicon) -> list[tuple[Entry, Entry]]:
    """(context entry, governance entry inside it) for every context term that contains a
    governance term: see _HIDDEN_BY_CONTEXT. Cheap enough to run at every load."""
    bounded: dict[str, list[Entry]] = {}  # whole-word Latin keys and CJK keys
    # 'regulat*', '*gesetz', by their first two characters (few share a context key's pairs)
    open_ended: dict[str, list[Entry]] = {}
    for e in lex.entries:
        if e.kind in _HIDDEN_BY_CONTEXT:
            if (e.left and e.right) or _WIDE.search(e.key):
                bounded.setdefault(e.key, []).append(e)
            else:
                open_ended.setdefault(e.key[:2], []).append(e)
    found: list[tuple[Entry, Entry]] = []

    def hit(c: Entry, g: Entry, i: int, j: int) -> None:
        if (not g.case or c.term[i:j] == g.term) and (
            not (g.langs and c.langs) or set(g.langs) & set(c.langs)
        ):
            found.append((c, g))

    for c in lex.entries:
        if c.kind != "context":
            continue
        key, n = c.key, len(c.key)
        if _WIDE.search(key):
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n + 1)]
        else:
            words = [m.span() for m in _WORD.finditer(key)]
            pairs = [(i, j) for i, _ in words for _, j in words if j > i]
        for i, j in pairs:
            if (i, j) != (0, n):
                for g in bounded.get(key[i:j], ()):
                    hit(c, g, i, j)
        pairs_here = {key[i : i + 2] for i in range(n)}
        for g in [g for p in pairs_here for g in open_ended.get(p, ())]:
            i = key.find(g.key)
            while i >= 0:
                j = i + len(g.key)
                inside = (i, j) != (0, n)
                left_ok = not g.left or i == 0 or not is_word_char(key[i - 1])
                right_ok = not g.right or j == n or not is_word_char(key[j])
                if inside and left_ok and right_ok:
                    hit(c, g, i, j)
                    break
                i = key.find(g.key, i + 1)
    return found


def check_context_rule(lex: Lexicon) -> None:
    """Raise on the first context term that contains a governance term it does not list in
    its group's `hides:` (a phrase that means something else: "rules out", "de acuerdo con")."""
    hides = {id(e): g.hides for g in lex.groups if g.kind == "context" for e in g.entries}
    for c, g in context_conflicts(lex):
        if g.key not in hides.get(id(c), ()):
            raise LexiconError(
                f"{c.source}: context term {c.term!r} contains the {g.kind} term {g.term!r}"
                f" ({g.source}), and the longer context match hides it. Shorten the context"
                f" term so that it ends before {g.term!r}; or, if the phrase means something"
                f' else ("rules out" is no rule), add {g.term!r} to the group\'s `hides:`'
            )
