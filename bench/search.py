"""Search benchmark: load N synthetic stories, time a mixed set of searches (p50/p95), size.

    .venv/bin/python bench/search.py --items 1000000 --queries 1000 --db /tmp/bench.db
    .venv/bin/python bench/search.py --items 20000 --pg postgresql+psycopg://...   # optional

Items are realistic in length (titles 50-110 chars, summaries 120-400) and language mix
(en, fr, de, es, zh, ja, ko); about a third are flagged relevant and tagged; ids follow
the time a story was first seen, 3% were published long before. Queries mix plain words,
two-word queries, "phrases", CJK terms (2 and 4 characters), short words and filters;
p50/p95 are given overall, per query kind and per filter, for the best of --runs runs.
The vocabulary is tiny (a word is in half or more of the stories of its language), so match
sets are far larger than in real news: a pessimistic benchmark.
An existing --db with at least --items stories is reused (pass --fresh to rebuild).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text

from bot.store.models import Entry, Feed, Story, StoryTag, Verdict
from bot.store.search import CJK_CLASS, MIN_TRIGRAM, is_word_term, parse_query, search_stories
from bot.store.search import sqlite as search_sqlite
from bot.store.storage import Storage

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_CJK = re.compile(f"[{CJK_CLASS}]")

WORDS = {
    k: v.split()
    for k, v in {
        "en": (
            "artificial intelligence regulation government lawmakers bill senate agency safety"
            " institute export controls chips semiconductor model frontier evaluation privacy"
            " data protection copyright liability enforcement fine court ruling guidance"
            " standard framework summit declaration alliance investment compute cloud startup"
            " market competition antitrust deepfake election transparency audit risk"
        ),
        "fr": (
            "intelligence artificielle règlement gouvernement loi sénat autorité sécurité"
            " contrôle exportations puces modèle évaluation données protection droit amende"
            " tribunal décision norme cadre sommet déclaration investissement"
        ),
        "de": (
            "künstliche Intelligenz Verordnung Regierung Gesetz Bundestag Behörde Sicherheit"
            " Exportkontrolle Chips Modell Bewertung Datenschutz Urheberrecht Haftung Bußgeld"
            " Gericht Urteil Norm Rahmen Gipfel Erklärung Investition"
        ),
        "es": (
            "inteligencia artificial reglamento gobierno ley senado agencia seguridad control"
            " exportaciones chips modelo evaluación datos protección derechos multa tribunal"
            " norma marco cumbre declaración inversión"
        ),
        "zh": (
            "人工智能 监管 办法 政府 法律 国务院 网信办 安全 出口 管制 芯片 半导体 模型 评估 数据"
            " 保护 版权 责任 执法 罚款 法院 标准 框架 峰会 宣言 合作 投资 算力 生成式 服务"
        ),
        "ja": (
            "人工知能 規制 法案 政府 国会 閣議決定 安全 研究所 輸出 管理 半導体 モデル 評価"
            " 個人情報"
            " 保護 著作権 責任 罰金 裁判所 指針 標準 枠組み 首脳 宣言 投資"
        ),
        "ko": (
            "인공지능 규제 기본법 정부 국회 통과 안전 연구소 수출 통제 반도체 모델 평가"
            " 개인정보 보호 저작권 책임 과징금 법원 지침 표준 정상회의 선언 투자"
        ),
    }.items()
}
SPACED = {"en", "fr", "de", "es", "ko"}
JURS = ("EU", "US", "CN", "JP", "KR", "GB", "FR", "DE", "IN", "INTL")
TOPICS = (
    "legislation",
    "regulation",
    "executive-action",
    "export-controls",
    "standards-safety",
    "enforcement-litigation",
    "public-investment",
)
FEEDS = [f"Feed {i:03d}" for i in range(200)]


def _sentence(rng: random.Random, lang: str, lo: int, hi: int) -> str:
    words = WORDS[lang]
    target = rng.randint(lo, hi)
    out = ""
    sep = " " if lang in SPACED else ""
    while len(out) < target:
        w = rng.choice(words)
        if lang not in SPACED and rng.random() < 0.15:
            w += "，" if lang == "zh" else "、"
        out = f"{out}{sep}{w}" if out else w
        if lang in SPACED and rng.random() < 0.08:
            out += f" {rng.randint(1, 2030)}"
    return out[:hi]


def _rows(n: int, start: int, total: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    langs = (
        ["en"] * 50 + ["fr"] * 8 + ["de"] * 8 + ["es"] * 6 + ["zh"] * 12 + ["ja"] * 9 + ["ko"] * 7
    )
    span = timedelta(days=3 * 365)
    for i in range(start, start + n):
        lang = rng.choice(langs)
        # Ids follow first sight, as in production; a few stories (a new feed's back
        # catalogue) were published long before they were seen.
        seen = NOW - span * (1 - (i + 1) / total)
        when = seen - timedelta(minutes=rng.randint(0, 360))
        if rng.random() < 0.03:
            when = seen - timedelta(days=rng.randint(1, 720))
        yield {
            "id": i + 1,
            "title": _sentence(rng, lang, 50, 110),
            "title_key": f"k{i}",
            "url": f"https://news{i % 997}.example/{i}",
            "summary": _sentence(rng, lang, 120, 400),
            "language": lang,
            "published": when,
            "first_seen": seen,
            "announce": True,
            "source_count": 1,
        }


def _feed_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": i + 1,
            "name": name,
            "config_url": f"https://f{i}.example/rss",
            "url": f"https://f{i}.example/rss",
            "jurisdictions": [],
            "interval_seconds": 1800,
            "enabled": True,
            "in_config": True,
            "consecutive_failures": 0,
            "entry_count": 0,
            "added_at": NOW,
            "origin": "config",
        }
        for i, name in enumerate(FEEDS)
    ]


def _batches(n: int, rng: random.Random, batch: int) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    """(stories, verdicts, tags, entries) rows, `batch` stories at a time (same data for a
    seed whatever the database)."""
    done = 0
    while done < n:
        k = min(batch, n - done)
        stories = list(_rows(k, done, n, rng))
        verdicts, tags, entries = [], [], []
        for st in stories:
            relevant = rng.random() < 0.35
            jur = rng.sample(JURS, rng.randint(1, 2)) if relevant else []
            top = rng.sample(TOPICS, rng.randint(1, 2)) if relevant else []
            verdicts.append(
                {
                    "story_id": st["id"],
                    "relevant": relevant,
                    "score": 0.8 if relevant else 0.1,
                    "jurisdictions": jur,
                    "topics": top,
                    "instruments": [],
                    "evidence": [],
                    "created_at": st["first_seen"],
                }
            )
            tags += [{"story_id": st["id"], "kind": "jurisdiction", "value": j} for j in jur]
            tags += [{"story_id": st["id"], "kind": "topic", "value": t} for t in top]
            entries.append(
                {
                    "feed_id": (st["id"] % len(FEEDS)) + 1,
                    "uid": str(st["id"]),
                    "uid_hash": f"{st['id']:064d}",
                    "story_id": st["id"],
                    "url": st["url"],
                    "title": st["title"],
                    "summary": "",
                    "language": st["language"],
                    "published": st["published"],
                    "published_known": True,
                    "first_seen": st["first_seen"],
                }
            )
        done += k
        yield stories, verdicts, tags, entries


def _progress(done: int, n: int, t0: float) -> None:
    rate = done / (time.perf_counter() - t0)
    print(f"\rloaded {done:,}/{n:,} ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)


def load(storage: Storage, n: int, rng: random.Random, batch: int = 20_000) -> float:
    """Bulk load: PostgreSQL by COPY with the search indexes built once at the end; SQLite by
    multi-row executemany in large transactions (the FTS5 triggers index as it goes)."""
    t0 = time.perf_counter()
    with storage.write() as s:
        s.execute(insert(Feed), _feed_rows())
    if storage.engine.dialect.name == "postgresql":
        _load_pg(storage, n, rng, batch, t0)
    else:
        _load_sqlite(storage, n, rng, batch, t0)
    print(file=sys.stderr)
    return time.perf_counter() - t0


def _load_sqlite(storage: Storage, n: int, rng: random.Random, batch: int, t0: float) -> None:
    """Rows by executemany with the stories' insert triggers dropped, then each trigger's
    statements run once over the whole table (its `new` row is the table under that alias):
    one pass into the FTS5 tables instead of a million small merges."""
    with storage.engine.connect() as c:
        triggers = c.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'stories'"
            " AND sql LIKE '%AFTER INSERT%'"
        ).all()
    bulk: list[str] = []
    for _, sql in triggers:
        body = sql[sql.upper().index("BEGIN") + 5 : sql.upper().rindex("END")]
        for stmt in filter(None, (x.strip() for x in body.split(";"))):
            m = re.fullmatch(r"(INSERT INTO \w+\s*\([^)]*\))\s*VALUES\s*\((.*)\)", stmt, re.S)
            if not m:
                sys.exit(f"cannot bulk-run this trigger statement: {stmt}")
            bulk.append(f"{m.group(1)} SELECT {m.group(2)} FROM stories AS new")
    done = 0
    with storage.write() as s:
        conn = s.connection()
        for name, _ in triggers:
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        for stories, verdicts, tags, entries in _batches(n, rng, batch):
            conn.execute(insert(Story), stories)
            conn.execute(insert(Verdict), verdicts)
            if tags:
                conn.execute(insert(StoryTag), tags)
            conn.execute(insert(Entry), entries)
            done += len(stories)
            _progress(done, n, t0)
        print(file=sys.stderr)
        for stmt in bulk:
            t1 = time.perf_counter()
            conn.exec_driver_sql(stmt)
            print(f"{stmt[:40]}...: {time.perf_counter() - t1:.0f} s", file=sys.stderr)
        for _, sql in triggers:
            conn.exec_driver_sql(sql)


_PG_TABLES = ("stories", "verdicts", "story_tags", "entries")


def _load_pg(storage: Storage, n: int, rng: random.Random, batch: int, t0: float) -> None:
    """COPY into the tables with their secondary indexes dropped, then the indexes rebuilt
    from their own definitions (pg_indexes): one sorted build each, not 1M GIN inserts."""
    from psycopg.types.json import Json  # only here: the bench runs without PostgreSQL too

    cols = {
        t: [c.name for c in m.__table__.columns]
        for t, m in zip(_PG_TABLES, (Story, Verdict, StoryTag, Entry), strict=True)
    }
    raw = storage.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (list(_PG_TABLES),),
        )
        defs = cur.fetchall()
        for name, _ in defs:
            cur.execute(f'DROP INDEX "{name}"')
        raw.commit()
        done = 0
        for stories, verdicts, tags, entries in _batches(n, rng, batch):
            for st in (*stories, *entries):
                st["published"] = st["published"].replace(tzinfo=None)
                st["first_seen"] = st["first_seen"].replace(tzinfo=None)
            for v in verdicts:
                v["created_at"] = v["created_at"].replace(tzinfo=None)
                for k in ("jurisdictions", "topics", "instruments", "evidence"):
                    v[k] = Json(v[k])
            for table, rows in zip(_PG_TABLES, (stories, verdicts, tags, entries), strict=True):
                names = [c for c in cols[table] if c in rows[0]] if rows else []
                if not names:
                    continue
                with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row([r[c] for c in names])
            raw.commit()
            done += len(stories)
            _progress(done, n, t0)
        print(file=sys.stderr)
        cur.execute("SET maintenance_work_mem = '512MB'")
        for name, ddl in defs:
            t1 = time.perf_counter()
            cur.execute(ddl)
            raw.commit()
            print(f"index {name}: {time.perf_counter() - t1:.0f} s", file=sys.stderr)
        for table in ("stories", "entries"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        raw.commit()
    finally:
        raw.close()


def queries(rng: random.Random, n: int) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for _ in range(n):
        r = rng.random()
        lang = rng.choice(["en", "en", "fr", "de", "zh", "ja", "ko"])
        words = WORDS[lang]
        kw: dict[str, Any] = {}
        if r < 0.25:
            q = rng.choice(WORDS["en"])
        elif r < 0.40:
            q = f"{rng.choice(WORDS['en'])} {rng.choice(WORDS['en'])}"
        elif r < 0.50:
            q = f'"{rng.choice(WORDS["en"])} {rng.choice(WORDS["en"])}"'
        elif r < 0.70:
            q = rng.choice(words)  # CJK words are often 2 characters: the short-term path
            if lang in ("zh", "ja") and rng.random() < 0.5:
                q = rng.choice(words) + rng.choice(words)
        elif r < 0.80:
            q = rng.choice(["AI", "EU", "UK", "G7"])  # short ASCII terms
        else:
            q = rng.choice(words)
        if rng.random() < 0.35:
            pick = rng.random()
            if pick < 0.3:
                kw["jurisdiction"] = rng.choice(JURS)
            elif pick < 0.55:
                kw["topic"] = rng.choice(TOPICS)
            elif pick < 0.75:
                kw["since"] = NOW - timedelta(days=rng.choice([1, 7, 30, 365]))
            elif pick < 0.9:
                kw["lang"] = lang
            else:
                kw["source"] = rng.choice(FEEDS)
        if rng.random() < 0.1:
            kw["page"] = rng.randint(2, 5)
        out.append((q, kw))
    return out


def _kind(q: str) -> str:
    """The query's shape, as a person would see it."""
    terms = parse_query(q).terms
    cjk = [t for t in terms if _CJK.search(t)]
    if q.startswith('"'):
        return "phrase"
    if cjk:
        return "CJK 1-2 chars" if all(len(t) < MIN_TRIGRAM for t in cjk) else "CJK 3+ chars"
    if all(is_word_term(t) for t in terms):
        return "short word (AI, EU)"
    return "two words" if len(terms) > 1 else "word"


def _filter(kw: dict[str, Any]) -> str:
    keys = [k for k in kw if k != "page"]
    return "+".join(keys) or "no filter"


def run_queries(
    storage: Storage, qs: list[tuple[str, dict[str, Any]]]
) -> tuple[list[float], dict[str, list[float]], dict[str, list[float]]]:
    times: list[float] = []
    by_kind: dict[str, list[float]] = {}
    by_filter: dict[str, list[float]] = {}
    slow: list[tuple[float, str, dict[str, Any]]] = []
    with storage.session() as s:
        search_stories(s, "warm up", now=NOW)
        for q, kw in qs:
            t0 = time.perf_counter()
            search_stories(s, q, now=NOW, **kw)
            dt = time.perf_counter() - t0
            times.append(dt)
            by_kind.setdefault(_kind(q), []).append(dt)
            by_filter.setdefault(_filter(kw), []).append(dt)
            slow.append((dt, q, kw))
    slow.sort(key=lambda x: -x[0])
    print(
        "slowest:",
        [
            (f"{d * 1000:.0f}ms", q, {k: str(v)[:10] for k, v in kw.items()})
            for d, q, kw in slow[:8]
        ],
        file=sys.stderr,
    )
    return times, by_kind, by_filter


def report(label: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    if len(ms) < 2:
        print(f"{label}: {len(ms)} searches  {ms[0]:.1f} ms")
        return
    q = statistics.quantiles(ms, n=100)
    print(
        f"{label}: {len(ms)} searches  p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms"
        f"  p99 {q[98]:.1f} ms  max {ms[-1]:.1f} ms  mean {statistics.fmean(ms):.1f} ms"
    )


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[94]


def bench(url: str, args: argparse.Namespace, label: str) -> None:
    storage = Storage.open(url)
    try:
        with storage.session() as s:
            have = s.scalar(select(func.count()).select_from(Story)) or 0
        if have < args.items:
            if have:
                sys.exit(f"{label}: the database has {have} stories; use --fresh or another --db")
            secs = load(storage, args.items, random.Random(args.seed))
            print(f"{label}: loaded {args.items:,} items in {secs:.0f} s")
            with storage.write() as s:
                if s.get_bind().dialect.name == "sqlite":
                    for t in ("stories_fts", "stories_fts_words"):
                        s.execute(text(f"INSERT INTO {t}({t}) VALUES ('optimize')"))
                    s.execute(text("ANALYZE"))
        if storage.engine.dialect.name == "postgresql":
            with storage.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
        qs = queries(random.Random(args.seed + 1), args.queries)
        runs = []
        for i in range(args.runs):
            load1 = os.getloadavg()[0]
            runs.append((*run_queries(storage, qs), load1))
            print(
                f"{label}: run {i + 1}: p95 {_p95(runs[-1][0]) * 1000:.1f} ms"
                f" (load average {load1:.2f} at its start)",
                file=sys.stderr,
            )
        times, by_kind, by_filter, load1 = min(runs, key=lambda r: _p95(r[0]))
        print(
            f"{label}: best of {args.runs} runs (by p95); load average {load1:.2f} at its"
            f" start, {os.cpu_count()} CPUs"
        )
        report(label, times)
        for kind, ts in sorted(by_kind.items()):
            report(f"{label} [{kind}]", ts)
        for name, ts in sorted(by_filter.items()):
            report(f"{label} [filter: {name}]", ts)
        if storage.engine.dialect.name == "sqlite":
            with storage.engine.connect() as c:
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db = Path(storage.engine.url.database or "")
            size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
            print(f"{label}: database size {size / 1e6:,.0f} MB ({db})")
        else:
            with storage.session() as s:
                size = s.scalar(text("SELECT pg_database_size(current_database())")) or 0
            print(f"{label}: database size {size / 1e6:,.0f} MB")
    finally:
        storage.close()


def pg_server(data_dir: Path, port: int) -> tuple[str, Any]:
    """A PostgreSQL server on `data_dir` (created on first use, kept afterwards, so a loaded
    database is reused); returns its URL and a function that stops it."""
    import glob
    import shutil
    import subprocess

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    if not initdb:
        sys.exit("--pg-dir needs PostgreSQL's initdb and pg_ctl (e.g. apt-get install postgresql)")
    bindir = Path(initdb).parent
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
    data_dir.mkdir(parents=True, exist_ok=True)
    if run_as:
        shutil.chown(data_dir, "postgres")
    data = data_dir / "data"
    if not data.exists():
        subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "policybot", "--auth=trust"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    opts = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {data_dir} -c fsync=off"
        " -c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=4GB"
    )
    ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(data)]
    running = subprocess.run([*ctl, "status"], stdout=subprocess.DEVNULL, check=False)
    if running.returncode == 0:  # another run's server: use it, leave it running
        return f"postgresql+psycopg://policybot@127.0.0.1:{port}/search_bench", lambda: None
    subprocess.run([*ctl, "-l", str(data_dir / "log"), "-w", "-o", opts, "start"], check=True)
    subprocess.run(
        [
            *run_as,
            str(bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "policybot",
            "search_bench",
        ],
        stderr=subprocess.DEVNULL,
        check=False,  # exists already: reused
    )

    def stop() -> None:
        subprocess.run([*ctl, "-m", "fast", "stop"], check=False, stdout=subprocess.DEVNULL)

    return f"postgresql+psycopg://policybot@127.0.0.1:{port}/search_bench", stop


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--items", type=int, default=1_000_000, help="stories to load")
    ap.add_argument("--queries", type=int, default=1000, help="searches to time")
    ap.add_argument(
        "--db",
        type=Path,
        default=Path("/tmp/policybot-search-bench.db"),
        help="SQLite file (reused when it holds enough stories)",
    )
    ap.add_argument("--fresh", action="store_true", help="delete --db first")
    ap.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database (empty)")
    ap.add_argument(
        "--pg-dir",
        type=Path,
        help="run a PostgreSQL server on this data directory (created once, then reused)",
    )
    ap.add_argument("--pg-port", type=int, default=55432, help="its port (with --pg-dir)")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=2, help="time the queries this many times")
    ap.add_argument(
        "--no-vocab-cache",
        action="store_true",
        help="look up short CJK terms in the trigram vocabulary every time",
    )
    args = ap.parse_args()
    if args.no_vocab_cache:
        search_sqlite.VOCAB_CACHE_SIZE = 0
    if not args.no_sqlite:
        if args.fresh:
            for p in args.db.parent.glob(args.db.name + "*"):
                p.unlink()
        bench(f"sqlite:///{args.db.resolve()}", args, "sqlite")
    if args.pg_dir:
        url, stop = pg_server(args.pg_dir.resolve(), args.pg_port)
        try:
            bench(url, args, "postgresql")
        finally:
            stop()
    elif args.pg:
        bench(args.pg, args, "postgresql")


if __name__ == "__main__":
    main()
