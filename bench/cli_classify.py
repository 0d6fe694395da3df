"""`policybot classify` end to end (run by hand): items per second as a user sees them.

Builds N items (default 40,000) from ../shared/eval/dev.jsonl, repeated, with ids and without
`lang` (the command then works with what the text tells), and times the installed command as
a subprocess, start-up and JSON output with evidence included:

    .venv/bin/policybot classify < input.jsonl > output.jsonl

in an empty folder (no feeds.yaml: the default classifier). Reports the best of --repeat runs
for the build installed (compiled with mypyc, see setup.py) and for the pure-Python modules
(POLICYBOT_PURE_PYTHON=1), beside two floors: `python -c pass` and the command with no input
(start-up: imports, lexicon, automaton).

Target: >= 10,000 items/s end to end.

    .venv/bin/python bench/cli_classify.py [--items 40000] [--repeat 5] [--no-pure]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "eval" / "dev.jsonl"
BIN = Path(sys.executable).parent  # the venv's bin: python and policybot


def build_input(path: Path, n: int) -> None:
    items = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            d = items[i % len(items)]
            rec = {"id": f"{d['id']}-{i}", "title": d["title"], "summary": d.get("summary") or ""}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def best_time(
    cmd: list[str], stdin: Path, cwd: Path, env: dict[str, str], repeat: int
) -> tuple[float, float]:
    """The shortest wall time of `repeat` runs, and the shortest CPU time (user + system: less
    skewed by other load), stdout to a file checked for one line per input line."""
    best = cpu = float("inf")
    out = cwd / "out.jsonl"
    want = sum(1 for _ in stdin.open(encoding="utf-8"))
    for _ in range(repeat):
        with stdin.open("rb") as fin, out.open("wb") as fout:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, stdin=fin, stdout=fout, cwd=cwd, env=env, check=True)
            best = min(best, time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = min(cpu, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        got = sum(1 for _ in out.open(encoding="utf-8"))
        if got != want:
            raise SystemExit(f"{' '.join(cmd)}: {got} lines out for {want} in")
    return best, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--items", type=int, default=40000, help="items to classify")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs; the best is reported")
    ap.add_argument("--no-pure", action="store_true", help="skip the pure-Python run")
    args = ap.parse_args(argv)
    if not DEV.exists():
        print(f"skipped: {DEV} is absent (the labelled items this benchmark repeats)")
        return 0
    policybot = BIN / "policybot"
    env = {k: v for k, v in os.environ.items() if k != "POLICYBOT_PURE_PYTHON"}
    env.pop("POLICYBOT_FEEDS", None)
    builds = [("installed build", env)]
    if not args.no_pure:
        builds.append(("pure Python", {**env, "POLICYBOT_PURE_PYTHON": "1"}))
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other load skews)")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        items = cwd / "in.jsonl"
        build_input(items, args.items)
        empty = cwd / "empty.jsonl"
        empty.write_text("", encoding="utf-8")
        floor = best_time([str(BIN / "python"), "-c", "pass"], empty, cwd, env, args.repeat)
        print(f"{args.items:,} items from {DEV.name}, no lang; best of {args.repeat} runs")
        print(f"{'run':44s} {'wall s':>7s} {'items/s':>8s} {'CPU s':>7s} {'items/s':>8s}")
        print(f"{'python -c pass (floor)':44s} {floor[0]:7.3f} {'':8s} {floor[1]:7.3f}")
        for name, build_env in builds:
            cmd = [str(policybot), "classify"]
            start = best_time(cmd, empty, cwd, build_env, args.repeat)
            t = best_time(cmd, items, cwd, build_env, args.repeat)
            label = "policybot classify, no input: " + name
            print(f"{label:44s} {start[0]:7.3f} {'':8s} {start[1]:7.3f}")
            print(
                f"{'policybot classify < input: ' + name:44s} {t[0]:7.3f} {args.items / t[0]:8,.0f}"
                f" {t[1]:7.3f} {args.items / t[1]:8,.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
