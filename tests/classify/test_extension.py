"""User lexicons extend the shipped data and change verdicts; bad files get clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classify import Classifier, LexiconError


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_extra_instrument_and_term_change_the_verdict(tmp_path: Path) -> None:
    title = "Ruritania's Grand Algorithmic Charter clears the Diet of Ruritania"
    base = Classifier.load()
    assert not base.classify(title).relevant
    extra = _write(
        tmp_path,
        "ruritania.yaml",
        """
jurisdictions:
  RU:
    places: [Ruritania]
instruments:
  - id: rr-charter
    name: Ruritania Grand Algorithmic Charter
    jurisdiction: RU
    topics: [legislation]
    terms: [Grand Algorithmic Charter]
""",
    )
    v = Classifier.load(extra_lexicons=[extra]).classify(title)
    assert v.relevant
    assert v.instruments == ("Ruritania Grand Algorithmic Charter",)
    assert "RU" in v.jurisdictions
    assert "legislation" in v.topics


def test_extra_negative_sinks_an_item(tmp_path: Path) -> None:
    title = "Minister opens AI chess tournament for schools"
    extra = _write(tmp_path, "neg.yaml", "negative:\n  - terms: [chess]\n    weight: 1.0\n")
    before = Classifier.load().classify(title).score
    after = Classifier.load(extra_lexicons=[extra]).classify(title).score
    assert after < before


def test_neutral_shadows_a_shorter_term(tmp_path: Path) -> None:
    title = "Government bans AI Kitchen brand ovens"
    extra = _write(tmp_path, "neutral.yaml", "neutral:\n  - AI Kitchen\n")
    assert Classifier.load().classify(title).relevant
    v = Classifier.load(extra_lexicons=[extra]).classify(title)
    assert not v.relevant
    assert not any(e.rule == "ai" for e in v.evidence)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("ai:\n  - terms: [[nested]]\n", "must be a string"),
        ("governance:\n  - terms: [x]\n    topics: [sports]\n", "unknown topic"),
        ("jurisdictions:\n  XX1: {names: [a]}\n", "not a jurisdiction code"),
        ("jurisdictions:\n  NO: {names: [Norge]}\n", "quote it"),
        ("bogus: []\n", "unknown section"),
        ("ai:\n  - terms: [x]\n    wieght: 1\n", "unknown key"),
        ("instruments:\n  - terms: [x]\n", "needs `id` and `name`"),
        ("ai: [\n", "not valid YAML"),
        ("char_map:\n  ab: c\n", "same length"),
    ],
)
def test_bad_lexicon_files(tmp_path: Path, text: str, needle: str) -> None:
    p = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(LexiconError) as err:
        Classifier.load(extra_lexicons=[p])
    assert needle in str(err.value)
    assert str(p) in str(err.value)


def test_missing_lexicon_file(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read"):
        Classifier.load(extra_lexicons=[tmp_path / "absent.yaml"])


def test_exact_names_generic_cues_and_modified_nouns(tmp_path: Path) -> None:
    extra = _write(
        tmp_path,
        "extra.yaml",
        """
jurisdictions:
  RU:
    exact: [Rur]
governance:
  - terms: [decrees rules]
    generic: true
    topics: [executive-action]
attribution:
  modified_nouns: [robotics]
""",
    )
    clf = Classifier.load(extra_lexicons=[extra])
    assert "RU" in clf.classify("Rur passes AI law").jurisdictions
    assert "RU" not in clf.classify("rur passes AI law").jurisdictions  # exact case only
    # a generic cue yields to a specific one
    assert "executive-action" not in clf.classify("Parliament decrees rules in AI bill").topics
    v = clf.classify("Japan passes AI law", "Korea robotics firms welcomed it.")
    assert v.jurisdictions == ("JP",)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("governance:\n  - terms: [x]\n    generic: maybe\n", "generic: expected true or false"),
        ("attribution: [a]\n", "attribution: expected a mapping"),
        ("attribution:\n  nouns: [a]\n", "unknown key"),
    ],
)
def test_bad_new_keys(tmp_path: Path, text: str, needle: str) -> None:
    p = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(LexiconError) as err:
        Classifier.load(extra_lexicons=[p])
    assert needle in str(err.value)
