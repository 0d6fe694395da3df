"""`policybot lexicon check`: the shipped lexicon passes; conflicts, unreachable entries,
groups without examples and wrong examples in a user file are reported, exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.cli import app


@pytest.fixture
def base(tmp_path: Path) -> list[str]:
    return ["--feeds", str(tmp_path / "absent.yaml")]


def test_shipped_lexicon_is_clean(base: list[str]) -> None:
    r = CliRunner().invoke(app, [*base, "lexicon", "check", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["ok"] is True
    assert out["groups"] > 400
    assert out["problems"] == []


def test_problems_in_a_user_file(base: list[str], tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        """
negative:
  # "regulation" is strong governance evidence in the shipped files
  - id: regulation-trap
    examples: ["Regulation of the Zorb league"]
    terms: [regulation]
ai:
  - id: zorbnet
    terms: [zorbnet, Zorbnet]
  - id: wrong-example
    examples: ["Ministers discuss chess"]
    not: ["Government bans Zorbotics over AI law breach"]  # a trap that gets flagged
    terms: [zorbotics]
""",
        encoding="utf-8",
    )
    r = CliRunner().invoke(app, [*base, "lexicon", "check", "--json", str(extra)])
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert out["ok"] is False
    kinds = {(p["kind"], p["group"].rsplit("(id ", 1)[1].rstrip(")")) for p in out["problems"]}
    assert kinds == {
        ("conflict", "regulation-trap"),
        ("unreachable", "zorbnet"),  # two spellings of the same words
        ("no-examples", "zorbnet"),
        ("example", "wrong-example"),
        ("not-example", "wrong-example"),
    }
    # Only the file's groups are checked: the shipped ones are clean.
    assert all(p["group"].startswith(str(extra)) for p in out["problems"])
    assert out["counts"]["conflict"] == 1


def test_table_output_and_bad_file(base: list[str], tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text("ai:\n  - id: zorbnet\n    terms: [zorbnet]\n", encoding="utf-8")
    r = CliRunner().invoke(app, [*base, "lexicon", "check", str(extra)])
    assert r.exit_code == 1
    assert "no-examples" in r.stdout and "zorbnet" in r.stdout
    r = CliRunner().invoke(app, [*base, "lexicon", "check", str(tmp_path / "none.yaml")])
    assert r.exit_code == 2
    assert "no such lexicon file" in r.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("context:\n  - terms: [in breach of]\n", encoding="utf-8")
    r = CliRunner().invoke(app, [*base, "lexicon", "check", str(broken)])
    assert r.exit_code == 2
    assert "hides" in r.output
