"""Several `policybot run` instances on one PostgreSQL database: cycle time, items/s, doubles.

For 1, 2 and 3 instances in turn it makes a fresh database, serves the same local feed set
(bench/feedserver.py: N synthetic feeds of M items on 127.0.0.1), starts the instances at
once (they migrate the empty database together), and measures:

- startup: until every instance logs "running";
- cycle: from then until every feed's items are stored (the first poll of each feed);
- items/s: items stored per second of cycle;
- delivered: until the outbox is drained (the flagged stories of one topic in ten, posted
  to the console);
- doubles: stories stored more than once, outbox rows repeated per story and destination,
  and stories posted more than once (counted in the instances' console output).

    .venv/bin/python bench/scaleout.py --pg postgresql://user@127.0.0.1:5432/postgres \
        [--feeds 300] [--items 20] [--instances 1,2,3] [--json]

`--pg` names a server where the bench may create and drop databases (default:
$POLICYBOT_TEST_PG_URL). Loopback only; each run is bounded and cleans up after itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
MARK = re.compile(r"\(feed \d+, no\. \d+\)")


def _feedserver(feeds: int, items: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [
            *(sys.executable, str(REPO / "bench" / "feedserver.py")),
            *("--feeds", str(feeds), "--items", str(items), "--port", "0"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise SystemExit("the feed server did not start")
    return proc, int(line[1])


def _database(admin_url: str) -> tuple[str, Any]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, admin


def _scalar(engine: Any, sql: str) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    except Exception:  # the schema is not there yet
        return -1


def run(
    admin_url: str, n: int, feeds: int, items: int, port: int, timeout: float
) -> dict[str, Any]:
    url, admin = _database(admin_url)
    work = Path(tempfile.mkdtemp(prefix="policybot-scaleout-"))
    cfg = work / "feeds.yaml"
    lines = ["defaults:", "  interval: 30m", "  backfill_window: 3650d", "feeds:"]
    for i in range(feeds):
        lines += [f"  - name: farm-{i}", f'    url: "http://127.0.0.1:{port}/feed/{i}.xml"']
    # One story in ten goes out (to the console, unpaced): delivery is measured, not the
    # platforms' pacing.
    lines += ["subscriptions:", "  - destination: {platform: console}", "    keywords: [Hiroshima]"]
    cfg.write_text("\n".join(lines) + "\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "POLICYBOT_METRICS_PORT")
    }
    env.update(DATABASE_URL=url, POLICYBOT_ALLOW_PRIVATE="1")
    procs: list[subprocess.Popen[str]] = []
    logs: list[Path] = []
    db = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    result: dict[str, Any] = {"instances": n, "feeds": feeds, "items": feeds * items}
    try:
        t0 = time.monotonic()
        for k in range(n):
            log = work / f"instance{k}.log"
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-c", "from bot.app.cli import main; main()"),
                        *("--feeds", str(cfg), "run"),
                    ],
                    env=dict(env, POLICYBOT_DATA_DIR=str(work / f"data{k}")),
                    stdout=open(work / f"out{k}.txt", "w"),  # noqa: SIM115
                    stderr=open(log, "w"),  # noqa: SIM115
                    text=True,
                    cwd=work,
                )
            )
        deadline = t0 + timeout

        def wait(cond: Any, what: str) -> float:
            while not cond():
                if time.monotonic() > deadline:
                    raise SystemExit(f"{n} instance(s): timed out waiting for {what}")
                if any(p.poll() is not None for p in procs):
                    raise SystemExit(f"an instance exited: see {work}")
                time.sleep(0.1)
            return time.monotonic()

        ready = wait(lambda: all("] running " in p.read_text() for p in logs), "the start")
        stored = wait(
            lambda: _scalar(db, "select count(*) from entries") >= feeds * items, "the items"
        )
        drained = wait(
            lambda: (
                _scalar(db, "select count(*) from outbox where status <> 'sent'") == 0
                and _scalar(db, "select count(*) from outbox") > 0
            ),
            "the outbox",
        )
        result.update(
            startup_s=round(ready - t0, 2),
            cycle_s=round(stored - ready, 2),
            items_per_s=round(feeds * items / max(stored - ready, 1e-9), 1),
            delivered_s=round(drained - ready, 2),
        )
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    result["stories"] = _scalar(db, "select count(*) from stories")
    result["story_doubles"] = _scalar(db, "select count(*) - count(distinct title) from stories")
    result["outbox_doubles"] = _scalar(
        db,
        "select count(*) from (select story_id, destination_id from outbox where kind = 'alert'"
        " group by 1, 2 having count(*) > 1) d",
    )
    result["outbox_rows"] = _scalar(db, "select count(*) from outbox")
    posted: Counter[str] = Counter()
    for k in range(n):
        posted.update(MARK.findall((work / f"out{k}.txt").read_text(errors="replace")))
    result["posted"] = sum(posted.values())
    result["post_doubles"] = sum(c - 1 for c in posted.values() if c > 1)
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("POLICYBOT_TEST_PG_URL"))
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--instances", default="1,2,3")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run, at most")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.pg:
        raise SystemExit(
            "give --pg postgresql://... (a server where the bench may create databases)"
        )
    server, port = _feedserver(args.feeds, args.items)
    rows = []
    try:
        for n in (int(x) for x in args.instances.split(",")):
            rows.append(run(args.pg, n, args.feeds, args.items, port, args.timeout))
            if not args.json:
                print(rows[-1], flush=True)
    finally:
        server.terminate()
        server.wait(10)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    cols = ["instances", "startup_s", "cycle_s", "items_per_s", "delivered_s", "stories"]
    cols += ["story_doubles", "outbox_doubles", "posted", "post_doubles"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "")) for c in cols))


if __name__ == "__main__":
    main()
