"""Instruments: the named laws and policies an item mentions ("EU AI Act"), by canonical name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.classify.kernel import Rule


def instruments(hits: Sequence[Rule], names: Mapping[str, str]) -> tuple[str, ...]:
    """The canonical names of the instrument hits' entries (`names`: the lexicon's id -> name;
    an entry without an id is named by its label), each once, in the order of the text."""
    out: list[str] = []
    for r in hits:
        name = names.get(r.ident, r.label)
        if name and name not in out:
            out.append(name)
    return tuple(out)
