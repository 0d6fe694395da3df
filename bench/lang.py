"""Language detection on the shared dev set, per language: the n-gram model alone (what
every entry got before), and the feed-aware path (bot.ingest.lang.detect_language with
`usual`) when the feed's usual language is the item's own, and when it is another one.

    .venv/bin/python bench/lang.py [../shared/eval/dev.jsonl]

Also counts how often the feed-aware path answered without the model, and times both.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from bot.ingest import lang as L
from bot.ingest.normalise import language_sample

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("file", nargs="?", default=str(ROOT.parent / "shared/eval/dev.jsonl"))
    path = Path(ap.parse_args().file)
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    texts = [(language_sample(i["title"], i.get("summary") or ""), i["lang"]) for i in items]
    model_calls = Counter[str]()
    model = L._identifier()

    class Counting:
        def classify(self, text: str) -> tuple[str, float]:
            model_calls["n"] += 1
            return model.classify(text)  # type: ignore[no-any-return]

    L.confirms("warm up", "en")  # loads the function words outside the timing
    L._model = Counting()
    runs = {
        "model only (before)": lambda t, g: L.detect_language(t),
        "usual = its own language": lambda t, g: L.detect_language(t, g),
        "usual = another (en; fr for en)": lambda t, g: L.detect_language(
            t, "fr" if g == "en" else "en"
        ),
    }
    print(f"{len(texts)} items; per language: right/total")
    langs = sorted(Counter(g for _, g in texts))
    print(f"{'':34s} " + " ".join(f"{g:>6s}" for g in langs) + "    all  model calls   us/item")
    for name, fn in runs.items():
        right: dict[str, int] = defaultdict(int)
        total: Counter[str] = Counter(g for _, g in texts)
        model_calls.clear()
        t0 = time.perf_counter()
        for text, gold in texts:
            right[gold] += fn(text, gold) == gold
        us = (time.perf_counter() - t0) / len(texts) * 1e6
        cells = " ".join(f"{right[g]:>3d}/{total[g]:<2d}" for g in langs)
        print(
            f"{name:34s} {cells} {sum(right.values()):>3d}/{len(texts)}"
            f" {model_calls['n']:>7d} {us:>12.0f}"
        )


if __name__ == "__main__":
    main()
