"""Every lexicon group has an id and examples that do what they say, generated per group from
the shipped files; the pattern syntax, weight levels and the context rule of the format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.classify import Classifier, LexiconError, get_classifier
from bot.classify.check import example_lang, misleads, yields
from bot.classify.entries import Group
from bot.classify.lexicon import (
    WEIGHT_LEVELS,
    builtin_files,
    expand_pattern,
    load_lexicon,
)

_SHIPPED = load_lexicon().groups


def _gid(g: Group) -> str:
    return f"{Path(g.source).stem}:{g.section}:{g.id}"


@pytest.mark.parametrize("group", _SHIPPED, ids=_gid)
def test_group_examples(group: Group) -> None:
    """Each example yields the group's evidence (an instrument's, its name in the verdict);
    each `not:` headline does not."""
    clf = get_classifier()
    assert group.explicit_id, f"{group.where}: give the group an `id:`"
    assert group.examples, f"{group.where}: add `examples:`"
    for h in group.examples:
        assert yields(clf, group, h), f"{group.where}: example {h!r} does not match the group"
        if group.kind == "instrument":
            name = group.entries[0].label
            v = clf.classify(h, "", lang=example_lang(group))
            assert name in v.instruments, f"{group.where}: {h!r} does not name {name!r}"
    for h in group.not_examples:
        assert not misleads(clf, group, h), f"{group.where}: `not:` headline {h!r} is flagged"


def test_every_shipped_group_is_checked() -> None:
    """The parametrised test covers every group of every shipped file (none skipped)."""
    n = 0
    for path in builtin_files():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        n += sum(len(v) for k, v in data.items() if isinstance(v, list))
    assert n == len(_SHIPPED) > 400
    assert any(g.not_examples for g in _SHIPPED)


def test_ids_are_unique_per_section_and_file() -> None:
    seen: set[tuple[str, str, str]] = set()
    for g in _SHIPPED:
        key = (g.source, g.section, g.id)
        assert key not in seen, f"{g.where}: duplicate id"
        seen.add(key)


# A bill number spelled out as a prefix: "SB 0*", "HB-9*", "H.R. 3*".
_LITERAL_BILL_PREFIX = re.compile(r"[A-Z][A-Z.]*[ -]?\d\*")


def test_no_literal_bill_number_prefixes_remain() -> None:
    for path in builtin_files():
        text = path.read_text(encoding="utf-8")
        found = _LITERAL_BILL_PREFIX.findall(text)
        assert not found, f"{path.name}: write {found[:3]} as a pattern (`SB <number>`)"


def test_pattern_expansion() -> None:
    terms = expand_pattern("(SB|HB)( |-|)<number>")
    assert len(terms) == 60
    assert terms[:2] == ["SB 0*", "SB 1*"]
    assert terms[10] == "SB-0*"
    assert terms[20] == "SB0*"
    assert terms[-1] == "HB9*"
    assert expand_pattern("H.R. <number>") == [f"H.R. {d}*" for d in range(10)]
    assert expand_pattern("regulat(e|es|ion)") == ["regulate", "regulates", "regulation"]
    with pytest.raises(LexiconError, match="unknown placeholder <year>"):
        expand_pattern("Act of <year>")
    with pytest.raises(LexiconError, match="can only end a term"):
        expand_pattern("SB <number> act")


def test_parentheses_without_alternatives_are_text() -> None:
    lex = load_lexicon()
    assert any(e.term == "Regulation (EU) 2024/1689" for e in lex.entries)


def test_bill_numbers_match_only_with_a_number(clf: Classifier) -> None:
    bills = next(g for g in clf.lexicon.groups if g.id == "bill-numbers")
    for h in ("Lawmakers amend AB 2013", "HB1709 heads to the governor", "Vote on H.R. 1 today"):
        assert yields(clf, bills, h), h
    for h in ("SB OpenAI Japan opens office", "sb 2231 in lower case", "The HR 42 team"):
        assert not yields(clf, bills, h), h


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "extra.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_weight_levels(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "governance:\n  - id: levels\n    terms: [zorblatt]\n    weight: clear\n"
        "ai_governance:\n  - terms: [robo-zorblatt]\n    ai: faint\n    weight: 0.45\n",
    )
    lex = load_lexicon([p])
    by_term = {e.term: e for e in lex.entries}
    assert by_term["zorblatt"].weight == WEIGHT_LEVELS["clear"] == 0.8
    assert by_term["robo-zorblatt"].ai == WEIGHT_LEVELS["faint"]
    assert by_term["robo-zorblatt"].weight == 0.45
    bad = _write(tmp_path, "governance:\n  - terms: [zorblatt]\n    weight: mighty\n")
    with pytest.raises(LexiconError, match="expected a level \\(strong, clear"):
        load_lexicon([bad])


def test_group_ids(tmp_path: Path) -> None:
    p = _write(tmp_path, "negative:\n  - terms: [Zorb Cup, zorb]\n  - terms: [zorb cup, zorbs]\n")
    ids = [g.id for g in load_lexicon([p]).groups if g.source == str(p)]
    assert ids == ["zorb-cup", "zorb-cup-2"]
    bad = _write(tmp_path, "negative:\n  - id: Zorb Cup\n    terms: [zorb]\n")
    with pytest.raises(LexiconError, match="is not a slug"):
        load_lexicon([bad])
    dup = _write(
        tmp_path, "negative:\n  - id: zorb\n    terms: [zorb]\n  - id: zorb\n    terms: [zorbs]\n"
    )
    with pytest.raises(LexiconError, match="already the id of another group"):
        load_lexicon([dup])


def test_context_rule_is_checked_at_load(tmp_path: Path) -> None:
    """A context term that holds a governance term hides it: refused unless listed."""
    p = _write(tmp_path, "context:\n  - label: reference\n    terms: [in breach of]\n")
    with pytest.raises(LexiconError, match=r"contains the governance term 'breach'.*hides"):
        load_lexicon([p])
    ok = _write(
        tmp_path,
        "context:\n  - label: reference\n    hides: [breach]\n    terms: [in breach of]\n",
    )
    assert any(e.term == "in breach of" for e in load_lexicon([ok]).entries)
    wrong_section = _write(tmp_path, "governance:\n  - terms: [zorb]\n    hides: [breach]\n")
    with pytest.raises(LexiconError, match="hides: only for the `context` section"):
        load_lexicon([wrong_section])
