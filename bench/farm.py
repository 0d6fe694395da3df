"""Whole-process benchmark against the shared feed farm and the naive anchor, in one run.

    .venv/bin/python bench/farm.py [--farm ../shared/bench] [--feeds 1000] [--items 50]
        [--change 0.1] [--warm 3] [--naive 1] [--run-cycles 5] [--skip-run] [--skip-poll]

It starts the farm (feedfarm.py: no <language> tag, long bodies, a changed feed rewrites every
item), writes its feeds file, and measures `policybot` as a user runs it, each a new process
under `/usr/bin/time -v` (wall, user+system CPU, peak RSS):

- cold `poll --once` over N x M new items, and the naive loop (naive_poll.py) on the same farm;
- `poll --once` with nothing changed (every feed answers 304);
- warm `poll --once` after `--change` of the feeds changed, `--warm` times (median), with the
  naive loop timed `--naive` times in the same run;
- `policybot run` on a fresh database: peak RSS (VmHWM) over its cold fill and `--run-cycles`
  warm cycles (feeds every minute; a share changed before each cycle), and each cycle's CPU.

The machine may be shared: the load average is printed beside every figure, and CPU time is
the steadier figure. Each CPU figure includes the process's start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Timed:
    wall: float
    cpu: float
    rss_mib: float
    rc: int
    load: str

    def __str__(self) -> str:
        return (
            f"{self.wall:7.2f} s wall {self.cpu:7.2f} s CPU {self.rss_mib:6.0f} MiB peak"
            f"  (load {self.load})"
        )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, method: str = "GET") -> bytes:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=60) as r:
        return bytes(r.read())


def timed(cmd: list[str], env: dict[str, str], log: Path) -> Timed:
    """Run `cmd` under /usr/bin/time -v; its output goes to `log`."""
    stats = log.with_suffix(".time")
    with log.open("ab") as out:
        rc = subprocess.call(
            ["/usr/bin/time", "-v", "-o", str(stats), *cmd], env=env, stdout=out, stderr=out
        )
    text = stats.read_text()

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        assert m, f"no {name!r} in {stats}"
        return m.group(1).strip()

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) / 1024
    return Timed(wall, cpu, rss, rc, load())


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmHWM", "VmRSS")):
            k, v = line.split(":")
            out[k] = int(v.split()[0])
    return out


def proc_cpu(pid: int) -> float:
    """utime + stime of the process and its waited children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def farm_stats(port: int) -> dict[str, int]:
    return dict(json.loads(http(f"http://127.0.0.1:{port}/_stats")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--farm", default=str(ROOT.parent / "shared" / "bench"))
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--change", type=float, default=0.1)
    ap.add_argument("--warm", type=int, default=3, help="warm poll --once runs (median)")
    ap.add_argument("--naive", type=int, default=1, help="naive loop runs in the warm phase")
    ap.add_argument("--run-cycles", type=int, default=5)
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--skip-poll", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    farm = Path(args.farm)
    python = sys.executable
    policybot = str(Path(python).parent / "policybot")
    tmp = Path(tempfile.mkdtemp(prefix="policybot-farm-"))
    port = free_port()
    server = subprocess.Popen(
        [python, str(farm / "feedfarm.py"), str(port), str(args.feeds), str(args.items)],
        stdout=subprocess.DEVNULL,
    )
    print(f"start: load {load()}; folder {tmp}", flush=True)
    try:
        for _ in range(100):
            try:
                feeds_yaml = http(f"http://127.0.0.1:{port}/_feeds.yaml").decode()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("the farm did not start")
        # One local server stands in for many hosts: lift the per-host limit, poll each minute
        # (for `run`).
        head = "defaults:\n  interval: 1m\n  concurrency: 32\n  per_host_concurrency: 32\n"
        (tmp / "feeds.yaml").write_text(head + feeds_yaml)
        env = dict(os.environ)
        env.update(POLICYBOT_FEEDS=str(tmp / "feeds.yaml"), POLICYBOT_DATA_DIR=str(tmp))
        env.pop("DISCORD_TOKEN", None)
        env.pop("SLACK_BOT_TOKEN", None)
        naive_cmd = [python, str(farm / "naive_poll.py"), str(tmp / "feeds.yaml")]
        rows: list[tuple[str, Timed | str]] = []

        def show(name: str, t: Timed | str) -> None:
            rows.append((name, t))
            print(f"{name:44s} {t}", flush=True)

        if not args.skip_poll:
            penv = dict(env, DATABASE_URL=f"sqlite:///{tmp / 'poll.db'}")
            poll = [policybot, "poll", "--once"]
            show("cold poll --once", timed(poll, penv, tmp / "cold.log"))
            show("naive (cold)", timed(naive_cmd, env, tmp / "naive.log"))
            show("poll --once, nothing changed", timed(poll, penv, tmp / "same.log"))
            warm: list[Timed] = []
            for i in range(args.warm):
                http(f"http://127.0.0.1:{port}/_change?fraction={args.change}", "POST")
                warm.append(timed(poll, penv, tmp / f"warm{i}.log"))
                show(f"warm poll --once #{i + 1}", warm[-1])
            naive = [timed(naive_cmd, env, tmp / "naive.log") for _ in range(args.naive)]
            for n in naive:
                show("naive (warm phase)", n)
            mw = statistics.median(t.wall for t in warm)
            mc = statistics.median(t.cpu for t in warm)
            nw = statistics.median(t.wall for t in naive) if naive else float("nan")
            show("warm median", f"{mw:.2f} s wall, {mc:.2f} s CPU; naive / warm = {nw / mw:.1f}x")
            cold = rows[0][1]
            ncold = rows[1][1]
            assert isinstance(cold, Timed) and isinstance(ncold, Timed)
            show("cold: naive wall / policybot wall", f"{ncold.wall / cold.wall:.2f}")

        if not args.skip_run:
            renv = dict(env, DATABASE_URL=f"sqlite:///{tmp / 'run.db'}")
            with (tmp / "run.log").open("wb") as out:
                run = subprocess.Popen([policybot, "run"], env=renv, stdout=out, stderr=out)
            try:
                base = farm_stats(port)
                polled = lambda: sum(farm_stats(port).values()) - sum(base.values())  # noqa: E731
                t0 = time.perf_counter()
                while polled() < args.feeds:
                    if run.poll() is not None:
                        raise SystemExit(f"policybot run exited: see {tmp / 'run.log'}")
                    time.sleep(0.5)
                c = proc_cpu(run.pid)
                show(
                    "run: cold fill",
                    f"{time.perf_counter() - t0:.1f} s until every feed was fetched, "
                    f"{c:.1f} s CPU so far, VmHWM {proc_status(run.pid)['VmHWM'] / 1024:.0f} MiB"
                    f" (load {load()})",
                )
                for i in range(args.run_cycles):
                    time.sleep(1)
                    http(f"http://127.0.0.1:{port}/_change?fraction={args.change}", "POST")
                    start = sum(farm_stats(port).values())
                    c0, t0 = proc_cpu(run.pid), time.perf_counter()
                    while sum(farm_stats(port).values()) - start < args.feeds:
                        time.sleep(0.5)
                    time.sleep(2)  # let the last polls finish processing
                    st = proc_status(run.pid)
                    show(
                        f"run: warm cycle {i + 1}",
                        f"{proc_cpu(run.pid) - c0:.2f} s CPU over {time.perf_counter() - t0:.0f} s,"
                        f" VmRSS {st['VmRSS'] / 1024:.0f} MiB, VmHWM {st['VmHWM'] / 1024:.0f} MiB"
                        f" (load {load()})",
                    )
                show("run: peak RSS (VmHWM)", f"{proc_status(run.pid)['VmHWM'] / 1024:.0f} MiB")
            finally:
                run.terminate()
                run.wait(60)
        print("\nfigures:")
        for name, t in rows:
            print(f"  {name:44s} {t}")
    finally:
        server.terminate()
        server.wait()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
