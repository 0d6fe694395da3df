"""The bot wired together: poll -> classify -> route -> outbox -> senders, once and for good."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.app.config import SAMPLE_DIR
from bot.app.runtime import Runtime
from bot.app.settings import Settings
from bot.deliver.outbox import outbox_depth
from bot.platforms.console.send import ConsoleSender
from bot.platforms.discord.send import DiscordWebhookSender
from bot.store.models import OutboxMessage
from bot.store.storage import Storage
from tests.app.conftest import Cli
from tests.app.test_samples import MUST_FLAG, MUST_NOT_FLAG
from tests.fakes.discord import FakeDiscord
from tests.httpserver import LocalHTTPServer, Reply

REPO = Path(__file__).resolve().parents[2]
CROSS_SOURCE = "export controls on advanced AI chips to China"


def test_sample_run_once_posts_each_flagged_story_to_the_console_once(cli: Cli) -> None:
    first = cli("run", "--sample", "--once")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    for title in MUST_FLAG:
        assert out.count(title) == 1, title
    for title in MUST_NOT_FLAG:
        assert title not in out
    # The story two sample feeds carry is posted once, naming both.
    assert out.count(CROSS_SOURCE) == 1
    assert re.search(
        r"Sources: .*Asia Tech Desk \(sample\).*Policy Wire \(sample\)", out
    ) or re.search(r"Sources: .*Policy Wire \(sample\).*Asia Tech Desk \(sample\)", out)
    # Every flagged story became one console alert, and the summary says so.
    # The last two columns: flagged to post, flagged stored only (none: backfill is wide).
    flagged, stored_only = map(
        int, re.findall(r"│\s+(\d+)\s+│\s+(\d+)\s+│\s*$", out, re.MULTILINE)[-1]
    )
    assert stored_only == 0
    alerts = out.count("\nSources: ") + out.startswith("Sources: ")
    assert flagged > 0 and alerts == flagged
    assert f"delivered {flagged} message(s)" in out

    again = cli("run", "--sample", "--once")
    assert again.returncode == 0, again.stderr
    assert "delivered 0 message(s)" in again.stdout
    assert "Sources: " not in again.stdout
    for title in MUST_FLAG:
        assert title not in again.stdout

    status = cli("--sample", "deliver", "status")
    assert status.returncode == 0, status.stderr
    assert re.search(rf"console\s+│\s+1\s+│\s+0\s+│\s+0\s+│\s+{flagged}\s+│", status.stdout)


@pytest.fixture
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhooks are paced at 2 s a message in production; tests need not wait."""
    from bot import platforms

    monkeypatch.setattr(platforms, "pacing", dict)


def _sample_feeds_config(tmp_path: Path, subscriptions: list[dict[str, Any]]) -> Path:
    feeds = yaml.safe_load((SAMPLE_DIR / "feeds.yaml").read_text(encoding="utf-8"))
    for f in feeds["feeds"]:
        f["url"] = (SAMPLE_DIR / f["url"].removeprefix("file:")).as_uri()
    feeds["subscriptions"] = subscriptions
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(feeds, allow_unicode=True), encoding="utf-8")
    return path


async def test_config_subscription_gets_only_its_stories_through_a_discord_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pacing: None
) -> None:
    cfg = _sample_feeds_config(
        tmp_path,
        [
            {
                "name": "china-watch",
                "destination": {"platform": "discord-webhook", "webhook_env": "CHINA_HOOK"},
                "jurisdictions": ["CN"],
            }
        ],
    )
    console = io.StringIO()
    async with FakeDiscord() as fake:
        monkeypatch.setenv("CHINA_HOOK", fake.webhook_url(123456789012345678))
        with fake.patched():
            rt = Runtime.build(
                Settings(data_dir=tmp_path / "data"),
                cfg,
                senders={
                    "console": ConsoleSender(console),
                    "discord-webhook": DiscordWebhookSender(),
                },
            )
            outcomes, stats = await rt.run_once()
    assert all(o.status == "ok" for o in outcomes)
    posted = [m["_request"] for m in fake.messages]
    assert stats.sent == len(posted) > 0 and stats.errors == []
    # A real subscription exists: the implicit console destination is gone.
    assert console.getvalue() == ""
    titles = [m["embeds"][0]["title"] for m in posted]
    assert any("China seeks global AI management alliance" in t for t in titles)
    assert not any("Korea" in t or "EU AI Office" in t for t in titles)
    for body in posted:
        assert body["allowed_mentions"] == {"parse": []}
        assert "CN" in str(body["embeds"][0])

    # A second cycle on unchanged feeds posts nothing more.
    async with FakeDiscord() as fake2:
        monkeypatch.setenv("CHINA_HOOK", fake2.webhook_url(123456789012345678))
        with fake2.patched():
            rt = Runtime.build(
                Settings(data_dir=tmp_path / "data"),
                cfg,
                senders={"discord-webhook": DiscordWebhookSender()},
            )
            _, stats2 = await rt.run_once()
    assert stats2.sent == 0 and fake2.messages == []


async def test_delivery_waits_in_the_outbox_while_the_platform_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pacing: None
) -> None:
    cfg = _sample_feeds_config(
        tmp_path,
        [
            {
                "destination": {"platform": "discord-webhook", "webhook_env": "HOOK"},
                "jurisdictions": ["CN"],
            }
        ],
    )
    settings = Settings(data_dir=tmp_path / "data")
    # Down: nothing listens on this port.
    with LocalHTTPServer() as srv:
        dead = srv.port
    monkeypatch.setattr("discord.http.Route.BASE", f"http://127.0.0.1:{dead}/api/v10")
    monkeypatch.setenv("HOOK", FakeDiscord.webhook_url(123456789012345678))
    rt = Runtime.build(settings, cfg, senders={"discord-webhook": DiscordWebhookSender()})
    _, down = await rt.run_once()
    assert down.sent == 0 and down.transient == 1  # one try, then the destination waits

    # Back up: a later cycle (after the retry time) delivers everything, once.
    async with FakeDiscord() as fake:
        with fake.patched():
            rt = Runtime.build(settings, cfg, senders={"discord-webhook": DiscordWebhookSender()})
            with rt.storage.write() as s:
                from sqlalchemy import update

                from bot.store.models import OutboxMessage

                s.execute(update(OutboxMessage).values(next_attempt_at=OutboxMessage.created_at))
            _, up = await rt.run_once()
    assert up.sent == len(fake.messages) > 0
    titles = [m["_request"]["embeds"][0]["title"] for m in fake.messages]
    assert len(titles) == len(set(titles))


async def test_serve_polls_posts_and_serves_metrics_until_stopped(tmp_path: Path) -> None:
    feed = (SAMPLE_DIR / "asia-en.xml").read_bytes()
    out = io.StringIO()
    with LocalHTTPServer() as srv:
        srv.route("/asia.xml", Reply(body=feed, headers={"Content-Type": "application/atom+xml"}))
        cfg = tmp_path / "feeds.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "defaults": {"backfill_window": "3650d"},
                    "feeds": [{"name": "Asia", "url": srv.url("/asia.xml")}],
                }
            )
        )
        rt = Runtime.build(
            Settings(data_dir=tmp_path / "data", metrics_port=0),
            cfg,
            senders={"console": ConsoleSender(out)},
        )
        task = asyncio.create_task(rt.serve())
        try:
            for _ in range(200):
                if MUST_FLAG[0] in out.getvalue() and rt.metrics_server is not None:
                    break
                await asyncio.sleep(0.05)
            assert MUST_FLAG[0] in out.getvalue()
            assert rt.metrics_server is not None
            base = f"http://127.0.0.1:{rt.metrics_server.port}"
            health = await asyncio.to_thread(urllib.request.urlopen, base + "/healthz", None, 5)
            assert health.status == 200
            scrape = await asyncio.to_thread(urllib.request.urlopen, base + "/metrics", None, 5)
            text = scrape.read().decode()
            assert re.search(r'policybot_feeds_polled_total\{status="ok"\} [1-9]', text)
            assert re.search(r"policybot_messages_sent_total\{platform=\"console\"\} [1-9]", text)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert len(srv.requests_to("/asia.xml")) == 1  # polled once: not due again yet
    assert out.getvalue().count(MUST_FLAG[0]) == 1


def test_empty_token_variables_mean_no_chat_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker compose passes `DISCORD_TOKEN: ${DISCORD_TOKEN:-}`: empty must mean unset, or the
    # bot would try Discord with no token and drop the console fallback.
    for name in (
        "DISCORD_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "DATABASE_URL",
        "POLICYBOT_METRICS_PORT",
        "POLICYBOT_LOG_LEVEL",
    ):
        monkeypatch.setenv(name, "")
    settings = Settings()
    assert not settings.has_chat_platform
    assert settings.metrics_port is None and settings.log_level == "INFO"
    assert settings.resolved_database_url().startswith("sqlite:///")
    monkeypatch.setenv("DISCORD_TOKEN", "abc")
    assert Settings().has_chat_platform


async def test_serve_with_a_discord_token_posts_alerts_and_answers_commands(
    tmp_path: Path,
) -> None:
    """The whole bot against the fake Discord: discord.py's gateway and REST code, the Router,
    the outbox worker and the /policy handlers on the same database."""
    from tests.platforms.helpers import opt, sub_option, until

    channel = "111111111111111111"
    cfg = _sample_feeds_config(
        tmp_path,
        [
            {
                "destination": {"platform": "discord", "channel": channel},
                "jurisdictions": ["CN"],
            }
        ],
    )
    async with FakeDiscord() as fake:
        with fake.patched():
            rt = Runtime.build(
                Settings(data_dir=tmp_path / "data", discord_token="fake-token"), cfg
            )
            assert set(rt.senders) >= {"discord", "console"}
            task = asyncio.create_task(rt.serve())
            try:
                await until(lambda: fake.messages_in(channel), timeout=30)
                await until(lambda: "global" in fake.commands, timeout=30)
                await until(lambda: fake.identify, timeout=30)
                data = fake.interaction("policy", sub_option("search", [opt("query", "alliance")]))
                await fake.dispatch("INTERACTION_CREATE", data)
                answer = await until(
                    lambda: (
                        [m for m in fake.messages if m.get("_token") == data["token"]]
                        or [
                            c
                            for c in fake.interaction_callbacks
                            if c["token"] == data["token"] and c["body"].get("type") == 4
                        ]
                    ),
                    timeout=30,
                )
                # Let the worker finish the CN alerts (paced at 1 s per channel).
                await until(lambda: all(f.last_polled_at for f in rt.storage.feeds()))
                await until(lambda: outbox_depth(rt.storage) == 0, timeout=30)
                queued = _outbox_count(rt.storage)
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
    alerts = [m["_request"] for m in fake.messages_in(channel)]
    assert len(alerts) == queued >= 4  # the sample has several CN stories; each posted once
    assert all(a["allowed_mentions"] == {"parse": []} and a["enforce_nonce"] for a in alerts)
    assert len({a["nonce"] for a in alerts}) == len(alerts)
    assert all("CN" in str(a["embeds"]) for a in alerts)
    assert "China seeks global AI management alliance" in str(answer)


def _outbox_count(storage: Storage) -> int:
    from sqlalchemy import func, select

    from bot.store.models import OutboxMessage

    with storage.session() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_the_sample_run_never_touches_the_real_database_or_chat(tmp_path: Path) -> None:
    from bot.app.runtime import sample_settings

    real = Settings(
        data_dir=tmp_path,
        database_url="postgresql://u:p@db.example/prod",
        discord_token="real-token",
        slack_bot_token="xoxb-real",
    )
    sample = sample_settings(real)
    assert sample.resolved_database_url() == f"sqlite:///{(tmp_path / 'sample.db').resolve()}"
    assert not sample.has_chat_platform
    assert sample.feeds.name == "feeds.yaml" and sample.feeds.parent.name == "samples"


def test_sigterm_mid_poll_lets_the_poll_finish_and_exits_cleanly(tmp_path: Path) -> None:
    import signal
    import time

    feed = (SAMPLE_DIR / "asia-en.xml").read_bytes()
    with LocalHTTPServer() as srv:
        # The body takes about 1.5 s to arrive: SIGTERM lands while the poll is under way.
        srv.route(
            "/slow.xml",
            Reply(
                body=feed,
                drip=1.5 / 30,
                drip_size=len(feed) // 30 + 1,
                headers={"Content-Type": "application/atom+xml"},
            ),
        )
        cfg = tmp_path / "feeds.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "defaults": {"backfill_window": "3650d"},
                    "feeds": [{"name": "Slow", "url": srv.url("/slow.xml")}],
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DISCORD_TOKEN")}
        env["POLICYBOT_DATA_DIR"] = str(tmp_path / "data")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from bot.app.cli import main; main()",
                "--feeds",
                str(cfg),
                "run",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not srv.requests_to("/slow.xml") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert srv.requests_to("/slow.xml"), "the bot never polled"
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "raised an exception" not in err, err
    assert "polled" in err, err
    stopping, polled = err.index("stopping"), err.index("polled")
    assert polled > stopping and "status=ok" in err[polled:]  # finished after the signal
    # Nothing is claimed after the signal: its alerts wait, queued, for the next start.
    assert MUST_FLAG[0] not in out
    storage = Storage.open(f"sqlite:///{(tmp_path / 'data' / 'policybot.db').resolve()}")
    try:
        with storage.session() as s:
            statuses = list(s.scalars(select(OutboxMessage.status)))
    finally:
        storage.close()
    assert statuses and set(statuses) == {"pending"}


def test_messages_for_a_platform_without_credentials_wait_and_say_why(
    cli: Cli, tmp_path: Path
) -> None:
    cfg = _sample_feeds_config(
        tmp_path,
        [
            {
                "destination": {"platform": "discord", "channel": "111111111111111111"},
            }
        ],
    )
    done = cli("--feeds", str(cfg), "run", "--once")
    assert done.returncode == 0, done.stderr
    assert "delivered 0 message(s)" in done.stdout
    assert "messages cannot be sent" in done.stderr and "set DISCORD_TOKEN" in done.stderr
    status = cli("--feeds", str(cfg), "deliver", "status")
    assert "waiting: DISCORD_TOKEN is not set" in status.stdout


async def test_a_poll_that_crashes_backs_off_and_keeps_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"backfill_window": "3650d", "interval": "10m"},
                "feeds": [{"name": "Asia", "url": (SAMPLE_DIR / "asia-en.xml").as_uri()}],
            }
        )
    )
    rt = Runtime.build(
        Settings(data_dir=tmp_path / "data"), cfg, senders={"console": ConsoleSender(io.StringIO())}
    )

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("lexicon bug")

    monkeypatch.setattr(rt.pipeline, "_classify", broken)  # (the compiled Classifier is sealed)
    (feed,) = rt.active_feeds()
    outcome = await rt.pipeline.poll_feed(feed)
    assert outcome.status == "error" and "RuntimeError: lexicon bug" in (outcome.error or "")
    (after,) = rt.storage.feeds()
    assert after.consecutive_failures == 1 and "lexicon bug" in (after.last_error or "")
    assert after.next_poll_at is not None and after.next_poll_at > feed.next_poll_at  # type: ignore[operator]
    assert rt.storage.due_feeds(after.last_polled_at or feed.added_at) == []  # not every tick
    assert after.entry_count == 0 and _outbox_count(rt.storage) == 0
    await rt.aclose()


async def test_the_classifier_is_read_only_when_a_new_entry_needs_a_verdict(
    tmp_path: Path,
) -> None:
    """A poll that finds nothing new (here an unchanged body) never reads the lexicons; the
    first new entry does, and its verdicts are those of the classifier read at start."""
    from bot.classify import LazyClassifier, get_classifier
    from bot.store.models import Story

    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "defaults": {"backfill_window": "3650d"},
                "feeds": [{"name": "Asia", "url": (SAMPLE_DIR / "asia-en.xml").as_uri()}],
            }
        )
    )
    settings = Settings(data_dir=tmp_path / "data")
    quiet: dict[str, Any] = {"console": ConsoleSender(io.StringIO())}

    rt = Runtime.build(settings, cfg, senders=quiet)
    lazy = rt.engine.classifier
    assert isinstance(lazy, LazyClassifier) and not lazy.loaded
    (first,) = await rt.pipeline.poll_feeds(rt.active_feeds())
    assert first.status == "ok" and first.new_stories > 0 and first.flagged > 0
    assert lazy.loaded
    with rt.storage.session() as s:
        for story in s.scalars(select(Story)):
            assert story.verdict is not None
            want = get_classifier().classify(story.title, story.summary, lang=story.language)
            assert (story.verdict.relevant, story.verdict.score) == (want.relevant, want.score)
    await rt.aclose()

    again = Runtime.build(settings, cfg, senders=quiet)
    (second,) = await again.pipeline.poll_feeds(again.active_feeds())
    assert second.status == "unchanged" and second.new_entries == 0
    idle = again.engine.classifier
    assert isinstance(idle, LazyClassifier) and not idle.loaded  # nothing new: never read
    await again.aclose()


def test_a_users_lexicon_is_read_at_start_so_its_mistakes_stop_the_start(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("terms: [oops\n", encoding="utf-8")
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "classifier": {"lexicons": ["mine.yaml"]},
                "feeds": [{"name": "Asia", "url": (SAMPLE_DIR / "asia-en.xml").as_uri()}],
            }
        )
    )
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"mine\.yaml"):
        Runtime.build(Settings(data_dir=tmp_path / "data"), cfg, senders={})
