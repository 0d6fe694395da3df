"""CLI start-up benchmark: whole `policybot` processes, as a person runs them.

    .venv/bin/python bench/cli.py                 # 7 runs per case, a table
    .venv/bin/python bench/cli.py --runs 15 --json

Cases, each run --runs times after one warm-up run (min and median wall time, and the
CPU time the process used, which a loaded machine inflates less):
  floor     `python -c pass` with the same interpreter: what no command can go below
  help      `policybot --help`
  search    `policybot search "AI Act"` on a SQLite database of --stories synthetic stories
            (built once with the search benchmark's loader through Storage, reused from
            --db when it already holds them)
  classify  `policybot classify` of ../shared/eval/dev.jsonl without its `lang` fields,
            repeated to --items lines (skipped, saying so, when ../shared is absent);
            items/s is end to end, start-up included

The children run in an empty directory (no feeds.yaml) with the database variables of the
calling shell removed, and with bytecode caches allowed, as an installed package has them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEV_SET = REPO.parent / "shared" / "eval" / "dev.jsonl"
QUERY = "AI Act"


@dataclass
class Case:
    name: str
    command: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    items: int = 0
    skipped: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "command": self.command}
        if self.skipped:
            return {**out, "skipped": self.skipped}
        out |= {
            "runs": len(self.wall),
            "wall_min_s": round(min(self.wall), 4),
            "wall_median_s": round(statistics.median(self.wall), 4),
            "cpu_min_s": round(min(self.cpu), 4),
            "cpu_median_s": round(statistics.median(self.cpu), 4),
        }
        if self.items:
            out["items"] = self.items
            out["items_per_s_best"] = round(self.items / min(self.wall))
            out["items_per_s_median"] = round(self.items / statistics.median(self.wall))
        return out


def child_env(database_url: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("POLICYBOT_")
        and k not in ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE", "COLUMNS")
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run_case(case: Case, argv: Sequence[str], runs: int, cwd: Path, env: dict[str, str]) -> None:
    for i in range(runs + 1):  # the first run warms caches (bytecode, page cache) and is dropped
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"{case.name}: exit {done.returncode}\n{done.stderr.decode()[-2000:]}")
        if i:
            case.wall.append(wall)
            case.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        print(f"\r{case.name}: {i}/{runs}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def build_search_db(path: Path, stories: int) -> str:
    """A database of `stories` synthetic stories (reused when it holds enough already)."""
    sys.path.insert(0, str(BENCH))
    import search as search_bench  # bench/search.py: the search benchmark's loader
    from sqlalchemy import func, select

    from bot.store.models import Story
    from bot.store.storage import Storage

    url = f"sqlite:///{path}"
    storage = Storage.open(url)
    try:
        with storage.session() as s:
            have = s.scalar(select(func.count()).select_from(Story)) or 0
        if have >= stories:
            print(f"search: reusing {path} ({have:,} stories)", file=sys.stderr)
            return url
        if have:
            sys.exit(f"{path} holds {have:,} stories, fewer than --stories: delete it first")
        # The loader's English vocabulary, plus the words of the benchmark's query, so that
        # the search finds (and prints) stories as it would on real news.
        search_bench.WORDS["en"] = [*search_bench.WORDS["en"], "AI", "Act", "AI Act"]
        secs = search_bench.load(storage, stories, random.Random(7))
        print(f"search: built {path} ({stories:,} stories) in {secs:.1f}s", file=sys.stderr)
    finally:
        storage.close()
    return url


def classify_input(path: Path, items: int) -> int:
    """The dev set without `lang` (the classifier detects it), repeated to `items` lines."""
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    with path.open("w", encoding="utf-8") as out:
        for i in range(items):
            row = rows[i % len(rows)]
            item = {"id": f"{row.get('id')}-{i}", "title": row.get("title", "")}
            if row.get("summary"):
                item["summary"] = row["summary"]
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    return items


def table(cases: list[Case], load: tuple[float, float, float]) -> str:
    floor = next((min(c.wall) for c in cases if c.name == "floor" and c.wall), 0.0)
    head = f"{'case':<9} {'runs':>4} {'min s':>7} {'median s':>8} {'min-floor':>9} {'cpu min':>7}"
    lines = [head + "  notes", "-" * (len(head) + 20)]
    for c in cases:
        if c.skipped:
            lines.append(f"{c.name:<9} {'-':>4} {'-':>7} {'-':>8} {'-':>9} {'-':>7}  {c.skipped}")
            continue
        lo, med = min(c.wall), statistics.median(c.wall)
        note = c.command
        if c.items:
            note = f"{c.items / lo:,.0f} items/s best, {c.items / med:,.0f} median; {note}"
        lines.append(
            f"{c.name:<9} {len(c.wall):>4} {lo:>7.3f} {med:>8.3f} {lo - floor:>9.3f}"
            f" {min(c.cpu):>7.3f}  {note}"
        )
    lines.append(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--stories", type=int, default=20_000, help="stories in the search database")
    ap.add_argument("--items", type=int, default=40_000, help="lines for the classify case")
    ap.add_argument("--db", type=Path, help="the search database (default: a temporary file)")
    ap.add_argument("--only", nargs="*", help="cases to run: floor help search classify")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args()

    policybot = str(Path(sys.executable).with_name("policybot"))
    if not Path(policybot).exists():
        sys.exit(f"{policybot} not found: install the project (pip install -e .) first")
    wanted = set(args.only or ("floor", "help", "search", "classify"))
    load = os.getloadavg()
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as tmp:
        work = Path(tmp) / "cwd"
        work.mkdir()
        if "floor" in wanted:
            case = Case("floor", "python -c pass")
            run_case(case, [sys.executable, "-c", "pass"], args.runs, work, child_env(None))
            cases.append(case)
        if "help" in wanted:
            case = Case("help", "policybot --help")
            run_case(case, [policybot, "--help"], args.runs, work, child_env(None))
            cases.append(case)
        if "search" in wanted:
            url = build_search_db(args.db or Path(tmp) / "search.db", args.stories)
            case = Case("search", f'policybot search "{QUERY}" ({args.stories:,} stories)')
            run_case(case, [policybot, "search", QUERY], args.runs, work, child_env(url))
            cases.append(case)
        if "classify" in wanted:
            case = Case("classify", f"policybot classify ({args.items:,} items, no lang)")
            if not DEV_SET.exists():
                case.skipped = f"{DEV_SET} is absent"
                print(f"classify: skipped, {case.skipped}", file=sys.stderr)
            else:
                lines = Path(tmp) / "items.jsonl"
                case.items = classify_input(lines, args.items)
                argv = [policybot, "classify", str(lines)]
                run_case(case, argv, args.runs, work, child_env(None))
            cases.append(case)
    if args.json:
        report = {
            "load_average": [round(x, 2) for x in load],
            "cases": [c.as_dict() for c in cases],
        }
        print(json.dumps(report, indent=2))
    else:
        print(table(cases, load))


if __name__ == "__main__":
    main()
