"""The quality targets on the shared labelled development set (skipped when it is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classify import Classifier
from bot.classify.evaluate import evaluate_file, quality_failures

DEV = Path(__file__).resolve().parents[2] / ".." / "shared" / "eval" / "dev.jsonl"


@pytest.mark.shared
def test_dev_set_quality_targets(clf: Classifier) -> None:
    if not DEV.exists():
        pytest.skip(f"{DEV} is absent (../shared not checked out beside the repo)")
    report = evaluate_file(clf, DEV)
    assert report.n >= 100
    problems = quality_failures(report)
    detail = [f"miss {c.id}: {c.title}" for c in report.misses] + [
        f"false alarm {c.id}: {c.title}" for c in report.false_alarms
    ]
    assert not problems, "\n".join(problems + detail)
