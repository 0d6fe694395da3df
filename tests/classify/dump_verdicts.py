"""Dump every verdict of a fixed, varied set of items as JSON Lines, to compare two versions
(or two builds) of the classifier byte for byte:

    .venv/bin/python tests/classify/dump_verdicts.py > /tmp/before.jsonl
    ... change the classifier ...
    .venv/bin/python tests/classify/dump_verdicts.py > /tmp/after.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl

The items: every labelled item (../shared/eval/dev.jsonl when present, the holdout sets), each
again without its language, with feed hints, with no title, with no summary and in upper case;
then thousands of items built from the lexicon's own terms in every script the classifier
knows, with odd language tags, hints, None fields, lone surrogates and stray punctuation.
Each line: the item's number and source, the language it was given and the verdict's full
to_dict(). The build in use goes to stderr (POLICYBOT_PURE_PYTHON=1 selects the pure one).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.classify import Classifier, native  # noqa: E402

LABELLED = [
    REPO.parent / "shared" / "eval" / "dev.jsonl",
    *sorted((REPO / "tests" / "classify" / "data").glob("tuning*.jsonl")),
]
# Language tags as feeds and users write them, well-formed or not.
LANGS: list[str | None] = [
    None, "", "en", "zh", "ja", "ko", "es", "fr", "de", "pt", "it", "ar", "ru", "nl", "EN-us",
    "en_GB", "pt-BR", "zh-Hant-TW", "zh-CN", "fil", "fra", "fre", "zho", "chi", "jpn", "kor",
    "eng", "English", "Chinese", "x", "  ", "und",
]  # fmt: skip
HINTS: list[list[str]] = [[], [], ["US"], [" eu", "INTL"], ["cn"], ["", "gb "], ["DE", "DE"]]
# Words of every script, punctuation that splits sentences or not, and the awkward cases:
# a lone surrogate (JSON "\ud800"), astral characters, letters that lower-case to two, marks.
FILLER = [
    "the", "said", "on", "Shanghai", "KI-Gesetz", "的", "は", "에서", "—", "U.S.", "Gov.",
    "2025.", "!", "?", "。", ",", "(", ")", "'s", "\n", "  ", "…", "«", "»", "政府", "法案",
    "규제", "法律", "規制", "Закон", "правительство", "νόμος", "قانون", "חוק", "कानून",
    "กฎหมาย", "luật", "İstanbul", "STRASSE", "ß", "ﬁ", "Ａ Ｉ", "ＡＩ", "\ud800", "\udfff",
    "😀", "𠀋", "e\u0301", "\u200b", "\u00a0", "“", "”", "’", "Inc.", "Dr.", "No. 5", "；",
    "！", "？", "、", "：", "\t", "\r\n",
]  # fmt: skip


# (source, title, summary, lang, hints)
Item = tuple[str, str | None, str | None, str | None, list[str]]


def labelled() -> Iterator[Item]:
    """Each labelled item and its variants."""
    for path in LABELLED:
        if not path.exists():
            print(f"dump_verdicts: {path} is absent: left out", file=sys.stderr)
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            d = json.loads(line)
            src = f"{path.stem}:{d.get('id')}"
            title, summary, lang = d["title"], d.get("summary") or "", d.get("lang")
            yield src, title, summary, lang, []
            yield src + ":nolang", title, summary, None, []
            yield src + ":hints", title, summary, lang, ["US", "eu "]
            yield src + ":notitle", None, summary, lang, []
            yield src + ":nosummary", title, "", lang, []
            yield src + ":upper", title.upper(), summary.upper(), lang, []


def generated(n: int, seed: int) -> Iterator[Item]:
    """Items built from the lexicon's terms in random case, order and company."""
    rng = random.Random(seed)
    # (sorted: the order of the entries taken from pycountry's sets varies between processes)
    terms = sorted({e.term for e in Classifier.load().lexicon.entries})

    def text(k: int) -> str:
        words = []
        for _ in range(k):
            w = rng.choice(terms) if rng.random() < 0.45 else rng.choice(FILLER)
            r = rng.random()
            words.append(w.upper() if r < 0.1 else (w.title() if r < 0.2 else w))
        return rng.choice([" ", " ", "", ". ", ", ", "。"]).join(words)

    for i in range(n):
        title = text(rng.randint(0, 12)) if rng.random() > 0.03 else None
        summary = text(rng.randint(0, 70)) if rng.random() > 0.05 else rng.choice([None, ""])
        yield f"gen:{i}", title, summary, rng.choice(LANGS), rng.choice(HINTS)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generated", type=int, default=4000, help="generated items (4000)")
    ap.add_argument("--seed", type=int, default=20260417)
    ap.add_argument("--out", type=Path, help="write here instead of stdout")
    args = ap.parse_args(argv)
    print(f"dump_verdicts: classifier {native.build().describe()}", file=sys.stderr)
    clf = Classifier.load()
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    n = 0
    for n, (src, title, summary, lang, hints) in enumerate(
        [*labelled(), *generated(args.generated, args.seed)], start=1
    ):
        v = clf.classify(title, summary, lang=lang, hints=hints)
        rec: dict[str, Any] = {"n": n, "src": src, "lang": lang, "verdict": v.to_dict()}
        # ASCII output: lone surrogates in evidence text stay escaped, as JSON allows.
        out.write(json.dumps(rec, sort_keys=True) + "\n")
    if args.out:
        out.close()
    print(f"dump_verdicts: {n} verdicts", file=sys.stderr)


if __name__ == "__main__":
    main()
