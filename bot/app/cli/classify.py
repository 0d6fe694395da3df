"""Classifier commands: `classify` (JSON Lines in, verdicts out), `eval`, `explain`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from bot.app.cli.base import app, console, err_console, fail, feeds_path

if TYPE_CHECKING:
    from bot.classify import Classifier


def load_classifier(ctx: typer.Context, threshold: float | None = None) -> Classifier:
    """The classifier with the user's `classifier:` settings when the config file exists.

    A missing config file means defaults (silently); a broken one is an error worth fixing."""
    from bot.app.config import ConfigError, load_config
    from bot.classify import Classifier, LexiconError

    extra: list[Path] = []
    cfg_threshold: float | None = None
    path = feeds_path(ctx)
    if path.exists():
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            fail(str(exc))
        cfg_threshold = cfg.classifier.threshold
        extra = [p if p.is_absolute() else cfg.base_dir / p for p in cfg.classifier.lexicons]
        missing = [str(p) for p in extra if not p.exists()]
        if missing:
            fail(f"{path}: classifier.lexicons: no such file: {', '.join(missing)}")
    try:
        return Classifier.load(
            extra_lexicons=extra, threshold=threshold if threshold is not None else cfg_threshold
        )
    except LexiconError as exc:
        fail(str(exc))


_THRESHOLD_OPT = typer.Option(
    None, "--threshold", min=0.0, max=1.0, help="Relevance threshold (default: config or 0.5)."
)


def _open_input(file: str) -> IO[str]:
    if file == "-":
        return sys.stdin
    p = Path(file)
    if not p.exists():
        fail(f"{file}: no such file")
    if p.is_dir():
        fail(f"{file}: is a directory, expected a JSON Lines file")
    try:
        return p.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        fail(f"{file}: cannot read it: {exc}")


@app.command("classify")
def classify_cmd(
    ctx: typer.Context,
    file: str = typer.Argument(
        "-",
        help="JSON Lines with id, title, summary, optional lang and hints (the feed's"
        " jurisdiction codes); '-' reads stdin.",
    ),
    threshold: float | None = _THRESHOLD_OPT,
    no_evidence: bool = typer.Option(False, "--no-evidence", help="Leave evidence out."),
) -> None:
    """Classify items: one JSON line out per JSON line in, in input order.

    Output fields: id, relevant, score, jurisdictions, topics, instruments, evidence. A line
    that is not a JSON object is reported on stderr with its line number; when it still names
    an id, an irrelevant result line is written for it so that ids stay aligned."""
    from bot.classify.evaluate import InputError, parse_line, verdict_record

    classifier = load_classifier(ctx, threshold)
    bad = 0
    sys.stdout.flush()
    write = sys.stdout.buffer.write  # (the lines are encoded as UTF-8 bytes)
    with _open_input(file) as fh:
        for n, line in enumerate(fh, start=1):
            try:
                item = parse_line(n, line)
            except InputError as exc:
                bad += 1
                err_console.print(f"[yellow]warning:[/] {escape(str(exc))}", highlight=False)
                item_id = _salvage_id(line)
                if item_id is not None:
                    write(_json_line(_empty_record(item_id)))
                continue
            if item is None:
                continue
            if item.id is None:
                err_console.print(
                    f"[yellow]warning:[/] line {n}: no `id`; the result line has id null",
                    highlight=False,
                )
            v = classifier.classify(item.title, item.summary, lang=item.lang, hints=item.hints)
            write(_encode(verdict_record(item.id, v, evidence=not no_evidence)))
    sys.stdout.buffer.flush()
    if bad:
        err_console.print(f"{bad} line(s) could not be read (see warnings above)")


# Ids that orjson writes as json.dumps would (it writes NaN as null, and refuses integers
# beyond 64 bits): other ids go through json.
_PLAIN_IDS = (str, int, type(None), bool)


def _encode(rec: dict[str, Any]) -> bytes:
    """One output line, as UTF-8. orjson writes the same JSON values as json.dumps (without
    the spaces after , and :) in a tenth of the time, most of it the evidence's; what it
    refuses (lone surrogates, huge integers) goes through json."""
    if type(rec["id"]) in _PLAIN_IDS:
        try:
            return orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            pass
    return _json_line(rec)


def _json_line(rec: dict[str, Any]) -> bytes:
    try:
        return (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8: escaped, it is still JSON
        return (json.dumps(rec) + "\n").encode("utf-8")


def _salvage_id(line: str) -> object | None:
    try:
        obj = json.loads(line)
    except (json.JSONDecodeError, ValueError):
        return None
    return obj.get("id") if isinstance(obj, dict) else None


def _empty_record(item_id: object) -> dict[str, object]:
    return {
        "id": item_id,
        "relevant": False,
        "score": 0.0,
        "jurisdictions": [],
        "topics": [],
        "instruments": [],
        "evidence": [],
        "error": "unreadable input line",
    }


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Labelled JSON Lines (relevant, jurisdictions, topics)."),
    threshold: float | None = _THRESHOLD_OPT,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    show: int = typer.Option(50, "--show", help="How many misses/false alarms to list."),
) -> None:
    """Measure the classifier on labelled items: relevance P/R/F1, tag micro-F1, recall by
    language, and the misses and false alarms."""
    from bot.classify.evaluate import evaluate_file

    if not file.exists():
        fail(f"{file}: no such file")
    classifier = load_classifier(ctx, threshold)
    try:
        report = evaluate_file(classifier, file)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot read it: {exc}")
    if report.n == 0:
        # Scores over nothing would read as perfect (P = R = 1): say there is nothing instead.
        for msg in report.skipped:
            err_console.print(f"[yellow]skipped:[/] {escape(msg)}", highlight=False)
        fail(
            f"{file}: no labelled items to evaluate (one JSON object per line with title,"
            " relevant, jurisdictions, topics)"
        )
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    for msg in report.skipped:
        err_console.print(f"[yellow]skipped:[/] {escape(msg)}", highlight=False)
    t = Table(title=f"{file.name}: {report.n} items, threshold {classifier.threshold}")
    for col in ("metric", "precision", "recall", "F1", "tp", "fp", "fn"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    for name, prf in (
        ("relevance", report.relevance),
        ("jurisdictions (micro)", report.jurisdictions),
        ("topics (micro)", report.topics),
    ):
        t.add_row(
            name,
            f"{prf.precision:.3f}",
            f"{prf.recall:.3f}",
            f"{prf.f1:.3f}",
            str(prf.tp),
            str(prf.fp),
            str(prf.fn),
        )
    console.print(t)
    lt = Table(title="recall by language")
    lt.add_column("lang")
    lt.add_column("relevant", justify="right")
    lt.add_column("recall", justify="right")
    for lang, (recall, n) in report.language_recall().items():
        lt.add_row(lang, str(n), f"{recall:.3f}")
    console.print(lt)
    for title, cases in (("misses", report.misses), ("false alarms", report.false_alarms)):
        ct = Table(title=f"{title} ({len(cases)})")
        ct.add_column("id")
        ct.add_column("lang")
        ct.add_column("score", justify="right")
        ct.add_column("title", overflow="fold")
        for c in cases[:show]:
            ct.add_row(
                escape(str(c.id)), escape(c.lang or ""), f"{c.verdict.score:.2f}", escape(c.title)
            )
        console.print(ct)


@app.command("explain")
def explain_cmd(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="The headline."),
    summary: str = typer.Option("", "--summary", "-s", help="The lead/summary text."),
    lang: str | None = typer.Option(None, "--lang", "-l", help="ISO 639-1 language, e.g. zh."),
    hint: list[str] = typer.Option([], "--hint", help="Feed jurisdiction hint (repeatable)."),
    threshold: float | None = _THRESHOLD_OPT,
) -> None:
    """Classify one headline and show why: every matched term and the rules that fired."""
    classifier = load_classifier(ctx, threshold)
    v = classifier.classify(title, summary, lang=lang, hints=hint)
    console.print(f"title:         {escape(title)}", highlight=False)
    if summary:
        console.print(f"summary:       {escape(summary)}", highlight=False)
    mark = "[bold green]RELEVANT[/]" if v.relevant else "[bold]not relevant[/]"
    console.print(f"{mark}  score {v.score:.3f} (threshold {classifier.threshold})")
    console.print(f"jurisdictions: {', '.join(v.jurisdictions) or '-'}", highlight=False)
    console.print(f"topics:        {', '.join(v.topics) or '-'}", highlight=False)
    console.print(f"instruments:   {escape(', '.join(v.instruments)) or '-'}", highlight=False)
    t = Table(title="evidence")
    for col in ("rule", "field", "matched", "term", "weight", "detail"):
        t.add_column(col, overflow="fold")
    for e in v.evidence:
        t.add_row(
            e.rule, e.field, escape(e.text), escape(e.term), f"{e.weight:.2f}", escape(e.detail)
        )
    console.print(t)
