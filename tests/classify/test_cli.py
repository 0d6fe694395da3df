"""The `policybot classify | eval | explain` contract, run through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.cli import app

ITEMS = [
    {"id": "a1", "title": "Senate passes bill to regulate artificial intelligence", "lang": "en"},
    {"id": 2, "title": "Lay's to release 8 regional chip flavors", "summary": None},
    {
        "id": "a3",
        "title": "国家网信办发布生成式人工智能服务管理暂行办法",
        "summary": "",
        "lang": None,
    },
    {"id": "a4", "title": "Cornell Tech secures $7M from NASA to modernize arXiv"},
]
FIELDS = {"id", "relevant", "score", "jurisdictions", "topics", "instruments", "evidence"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def no_config(tmp_path: Path) -> list[str]:
    # A config path that does not exist: defaults, silently.
    return ["--feeds", str(tmp_path / "absent.yaml")]


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_classify_order_and_fields(runner: CliRunner, tmp_path: Path, no_config: list[str]) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text(
        "\n".join(json.dumps(i, ensure_ascii=False) for i in ITEMS) + "\n\n", encoding="utf-8"
    )
    res = runner.invoke(app, [*no_config, "classify", str(f)])
    assert res.exit_code == 0, res.output
    rows = _lines(res.stdout)
    assert [r["id"] for r in rows] == ["a1", 2, "a3", "a4"]
    for r in rows:
        assert set(r) == FIELDS
    assert [r["relevant"] for r in rows] == [True, False, True, False]
    assert rows[2]["jurisdictions"] == ["CN"]
    assert "China Interim Measures for Generative AI Services" in rows[2]["instruments"]
    assert isinstance(rows[0]["evidence"], list) and rows[0]["evidence"]


def test_classify_stdin_and_bad_lines(runner: CliRunner, no_config: list[str]) -> None:
    text = "\n".join(
        [
            json.dumps({"id": "ok", "title": "EU AI Act enters into force"}),
            "{not json",
            json.dumps(["a", "list"]),
            json.dumps({"id": "num", "title": 42, "summary": {"x": 1}}),
            json.dumps({"title": "AI law passes", "summary": "no id here"}),
        ]
    )
    res = runner.invoke(app, [*no_config, "classify", "-"], input=text)
    assert res.exit_code == 0
    rows = _lines(res.stdout)
    assert [r["id"] for r in rows] == ["ok", "num", None]
    assert rows[0]["relevant"] is True
    assert rows[1]["relevant"] is False and "error" in rows[1]
    assert "line 2" in res.stderr and "line 3" in res.stderr and "line 4" in res.stderr
    assert "Traceback" not in res.output


def test_classify_missing_file(runner: CliRunner, tmp_path: Path, no_config: list[str]) -> None:
    res = runner.invoke(app, [*no_config, "classify", str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 2
    assert "no such file" in " ".join(res.stderr.split())


def test_config_lexicon_and_threshold(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "lex").mkdir()
    (tmp_path / "lex" / "extra.yaml").write_text(
        "ai:\n  - terms: [robo-judge]\n    weight: 1.0\n", encoding="utf-8"
    )
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text("classifier:\n  lexicons: [lex/extra.yaml]\n", encoding="utf-8")
    item = json.dumps({"id": 1, "title": "Parliament passes law on robo-judge systems"})
    res = runner.invoke(app, ["--feeds", str(cfg), "classify", "-"], input=item)
    assert res.exit_code == 0, res.output
    assert _lines(res.stdout)[0]["relevant"] is True
    res = runner.invoke(app, ["--feeds", str(tmp_path / "none.yaml"), "classify", "-"], input=item)
    assert _lines(res.stdout)[0]["relevant"] is False
    cfg.write_text(
        "classifier:\n  threshold: 0.999\n  lexicons: [lex/extra.yaml]\n", encoding="utf-8"
    )
    res = runner.invoke(app, ["--feeds", str(cfg), "classify", "-"], input=item)
    assert _lines(res.stdout)[0]["relevant"] is False


def test_config_missing_lexicon_is_clear(runner: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text("classifier:\n  lexicons: [missing.yaml]\n", encoding="utf-8")
    res = runner.invoke(app, ["--feeds", str(cfg), "classify", "-"], input="")
    assert res.exit_code == 2
    assert "missing.yaml" in " ".join(res.stderr.split())


def test_eval_on_labelled_file(runner: CliRunner, tmp_path: Path, no_config: list[str]) -> None:
    rows = [
        {"id": 1, "title": "Senate passes AI bill", "relevant": True, "lang": "en",
         "jurisdictions": ["US"], "topics": ["legislation"]},
        {"id": 2, "title": "Japan passes AI law", "relevant": True, "lang": "en",
         "jurisdictions": ["JP"], "topics": ["legislation"]},
        {"id": 3, "title": "Gemini weekly horoscope", "relevant": False, "lang": "en",
         "jurisdictions": [], "topics": []},
        {"id": 4, "title": "Cat video goes viral", "relevant": True, "lang": "en",
         "jurisdictions": ["US"], "topics": ["other-policy"]},
    ]  # fmt: skip
    f = tmp_path / "gold.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    res = runner.invoke(app, [*no_config, "eval", str(f), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["items"] == 4
    assert d["relevance"]["tp"] == 2 and d["relevance"]["fn"] == 1 and d["relevance"]["fp"] == 0
    assert d["relevance"]["precision"] == 1.0
    assert [m["id"] for m in d["misses"]] == [4]
    assert d["recall_by_language"]["en"]["relevant"] == 3
    assert len(d["skipped"]) == 1 and "line 5" in d["skipped"][0]
    res = runner.invoke(app, [*no_config, "eval", str(f)])
    assert res.exit_code == 0
    assert "recall by language" in res.stdout and "misses" in res.stdout


def test_explain_shows_evidence(runner: CliRunner, no_config: list[str]) -> None:
    res = runner.invoke(
        app,
        [*no_config, "explain", "Beijing tightens [bold]rules[/bold] on generative AI", "--lang",
         "en"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "RELEVANT" in res.stdout
    assert "CN" in res.stdout
    assert "generative AI" in res.stdout
    assert "[bold]" in res.stdout  # feed text is shown literally, never as markup


def test_classify_lines_hold_the_verdicts_values(
    runner: CliRunner, tmp_path: Path, no_config: list[str]
) -> None:
    """The output is encoded fast (orjson, evidence_dicts), but holds what json.dumps of the
    verdicts' to_dict() with _asdict() evidence would: the same JSON values, field by field."""
    from bot.classify import get_classifier

    items = [*ITEMS, {"id": 5, "title": "EU AI Act", "hints": ["de", " fr"], "lang": "fil"}]
    res = runner.invoke(
        app, [*no_config, "classify", "-"], input="\n".join(json.dumps(i) for i in items)
    )
    assert res.exit_code == 0, res.output
    clf = get_classifier()
    want = []
    for i in items:
        v = clf.classify(i["title"], i.get("summary"), i.get("lang"), i.get("hints", ()))
        want.append({"id": i["id"], **v.to_dict(), "evidence": [e._asdict() for e in v.evidence]})
    assert _lines(res.stdout) == json.loads(json.dumps(want))


def test_classify_writes_what_orjson_refuses(runner: CliRunner, no_config: list[str]) -> None:
    """A lone surrogate (JSON allows "\\ud800") has no UTF-8: the line escapes it rather than
    the command failing; integers beyond 64 bits and NaN ids come back as they went in."""
    text = "\n".join(
        [
            '{"id": "a\\ud800", "title": "EU AI Act enters into force"}',
            '{"id": 2, "title": "EU AI Act", "hints": ["\\udfff"]}',
            '{"id": 123456789012345678901234567890, "title": "EU AI Act"}',
            '{"id": NaN, "title": "x"}',
        ]
    )
    res = runner.invoke(app, [*no_config, "classify", "-"], input=text)
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.stdout_bytes.decode("utf-8").splitlines()]
    assert rows[0]["id"] == "a\ud800" and rows[0]["relevant"] is True
    assert rows[1]["evidence"][-1]["text"] == "\udfff"
    assert rows[2]["id"] == 123456789012345678901234567890
    assert rows[3]["id"] != rows[3]["id"]  # NaN
