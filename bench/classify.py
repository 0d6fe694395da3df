"""Classifier benchmark (run by hand): items per second on one core, against a naive baseline.

Builds N items of about 600 characters (from ../shared/eval/dev.jsonl when present, otherwise
from built-in multilingual snippets), then times:

  1. lexicon load (YAML -> entries -> automaton), the default classifier;
  2. Classifier.classify over all items (one Aho-Corasick pass per item, plus scoring), in the
     build installed (compiled with mypyc, see setup.py) and, in a second process, as pure
     Python (POLICYBOT_PURE_PYTHON=1), the build of an install without a C compiler;
  3. the naive way over the same items: one compiled `re.search` per lexicon entry
     (whole-word, case-insensitive), i.e. the same vocabulary matched by a loop of regexes.
     It only finds matches, it does not score them, so it flatters the naive side.

Target: >= 20,000 items/s for the classifier on one core.

    .venv/bin/python bench/classify.py [--items 20000] [--naive-items 200] [--chars 600]
                                       [--repeat 3] [--no-pure]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.classify import Classifier, native
from bot.classify.lexicon import load_lexicon

DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval" / "dev.jsonl"

SNIPPETS = [
    ("EU Commission delays AI Act high-risk rules to end of 2027",
     "The European Commission has unveiled a digital simplification package, announcing that"
     " the implementation of the AI Act's rules for high-risk systems will be delayed."),
    ("Cerebras raises $1 billion at $23 billion valuation",
     "AI chipmaker Cerebras Systems said on Wednesday it raised $1 billion in a late-stage"
     " funding round that valued it at $23 billion."),
    ("国家网信办:有序开展生成式人工智能服务备案工作",
     "网信部门会同相关部门按照《生成式人工智能服务管理暂行办法》要求,有序开展生成式人工智能服务备案工作。"),
    ("'AI기본법' 국회 본회의서 가결", "AI기본법이 26일 국회 본회의를 통과했다."),
    ("KI-Chatbots interpretieren Unsinn als sinnvoll",
     "In der Studie schildern die Wissenschaftler, wie sie Sprachmodelle herausgefordert haben."),
    ("Senado aprova projeto de regulamentação da inteligência artificial no Brasil",
     "O Senado Federal aprovou nesta terça-feira o projeto de lei que regulamenta o uso da IA."),
]  # fmt: skip


def load_items(n: int, chars: int) -> list[tuple[str, str, str | None]]:
    base: list[tuple[str, str, str | None]] = []
    if DEV.exists():
        for line in DEV.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                base.append((d["title"], d.get("summary") or "", d.get("lang")))
    else:
        base = [(t, s, None) for t, s in SNIPPETS]
    by_lang: dict[str | None, list[str]] = {}
    for title, summary, lang in base:
        by_lang.setdefault(lang, []).append(summary or title)
    items = []
    for i in range(n):
        title, summary, lang = base[i % len(base)]
        # Pad the summary with other summaries in the same language up to about `chars`
        # characters, as a long feed summary would read.
        pool = by_lang[lang]
        j = i
        while len(title) + len(summary) < chars:
            summary = summary + " " + pool[j % len(pool)]
            j += 1
        items.append((title, summary[: max(0, chars - len(title))], lang))
    return items


def naive_patterns() -> list[re.Pattern[str]]:
    pats = []
    for e in load_lexicon().entries:
        flags = 0 if e.case else re.IGNORECASE
        left = r"(?<!\w)" if e.left else ""
        right = r"(?!\w)" if e.right else ""
        pats.append(re.compile(left + re.escape(e.term) + right, flags))
    return pats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--items", type=int, default=20000, help="items for the classifier run")
    ap.add_argument("--naive-items", type=int, default=200, help="items for the naive run")
    ap.add_argument("--chars", type=int, default=600, help="characters per item (title+summary)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    ap.add_argument("--no-pure", action="store_true", help="skip the pure-Python run")
    ap.add_argument("--rate-only", action="store_true", help=argparse.SUPPRESS)  # (that run)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    clf = Classifier.load()
    load_s = time.perf_counter() - t0
    entries = len(clf.lexicon.entries)

    items = load_items(args.items, args.chars)
    avg = sum(len(t) + len(s) for t, s, _ in items) / len(items)
    for t, s, lang in items[:200]:  # warm-up
        clf.classify(t, s, lang=lang)
    # Best of --repeat runs, as timeit does: the minimum is the least disturbed by other load.
    clf_s = float("inf")
    relevant = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        relevant = 0
        for t, s, lang in items:
            relevant += clf.classify(t, s, lang=lang).relevant
        clf_s = min(clf_s, time.perf_counter() - t0)
    clf_rate = len(items) / clf_s
    if args.rate_only:
        print(json.dumps({"rate": clf_rate, "build": native.build().describe()}))
        return 0
    pure: tuple[float, str] | None = None
    if native.build().compiled and not args.no_pure:
        pure = _pure_rate(args)

    t0 = time.perf_counter()
    pats = naive_patterns()
    naive_compile_s = time.perf_counter() - t0
    naive_items = items[: args.naive_items]
    naive_s = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        found = 0
        for t, s, _ in naive_items:
            text = t + "\n" + s
            for p in pats:
                if p.search(text):
                    found += 1
        naive_s = min(naive_s, time.perf_counter() - t0)
    naive_rate = len(naive_items) / naive_s

    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other load skews)")
    print(f"lexicon: {entries} entries, load + automaton build {load_s * 1000:.0f} ms")
    print(f"items: {len(items)} of {avg:.0f} chars on average ({relevant} relevant)")
    print(f"classifier build: {native.build().describe()}")
    print(f"{'method':<44}{'items/s':>12}{'us/item':>10}")
    print(f"{'Classifier.classify (Aho-Corasick + scoring)':<44}{clf_rate:>12,.0f}"
          f"{1e6 / clf_rate:>10.1f}")  # fmt: skip
    if pure is not None:
        rate, build = pure
        label = "  the same, pure Python" if build.startswith("pure") else f"  ({build}?)"
        print(f"{label:<44}{rate:>12,.0f}{1e6 / rate:>10.1f}")
    print(f"{'naive: one re.search per entry (match only)':<44}{naive_rate:>12,.0f}"
          f"{1e6 / naive_rate:>10.1f}")  # fmt: skip
    print(f"speed-up: {clf_rate / naive_rate:,.0f}x  (naive regex compile {naive_compile_s:.2f} s)")
    return 0


def _pure_rate(args: argparse.Namespace) -> tuple[float, str]:
    """The classifier's rate as pure Python, measured the same way in a second process."""
    env = {**os.environ, native.PURE_ENV: "1"}
    cmd = [sys.executable, __file__, "--rate-only", "--items", str(args.items)]
    cmd += ["--chars", str(args.chars), "--repeat", str(args.repeat)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    d = json.loads(out.strip().splitlines()[-1])
    return float(d["rate"]), str(d["build"])


if __name__ == "__main__":
    raise SystemExit(main())
