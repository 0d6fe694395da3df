"""feeds.yaml loading: every mistake is a ConfigError naming the file, the entry and the fix."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.config import (
    SAMPLE_CONFIG,
    SAMPLE_DIR,
    AppConfig,
    ConfigError,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "feeds.yaml"


def _write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg, "the message must name the file"
    assert "Traceback" not in msg
    return msg


GOOD_FEED = "  - name: Good feed\n    url: https://good.example/feed\n"


def test_valid_file_loads_with_defaults_and_hints(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "defaults:\n  interval: 15m\nfeeds:\n"
        + GOOD_FEED
        + "  - name: EU\n    url: https://eu.example/rss\n    interval: 2h\n"
        "    language: en-GB\n    jurisdictions: eu\n",
    )
    cfg = load_config(p)
    assert [f.name for f in cfg.feeds] == ["Good feed", "EU"]
    assert cfg.interval_for(cfg.feeds[0]) == timedelta(minutes=15)
    assert cfg.interval_for(cfg.feeds[1]) == timedelta(hours=2)
    assert cfg.feeds[1].language == "en"
    assert cfg.feeds[1].jurisdictions == ["EU"]  # a single code is read as a one-item list


def test_bad_url_names_entry_and_fix(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "feeds:\n" + GOOD_FEED + "  - name: Broken one\n    url: ftp://files.example/x.xml\n",
    )
    msg = _error(p)
    assert "feeds[1] ('Broken one').url" in msg
    assert "ftp://files.example/x.xml" in msg and "http(s) URL" in msg


def test_url_without_host_is_refused(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "feeds:\n  - name: No host\n    url: https:///feed\n"))
    assert "feeds[0] ('No host').url" in msg


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds:\n" + GOOD_FEED + "    intreval: 5m\n")
    msg = _error(p)
    assert "feeds[0] ('Good feed').intreval" in msg
    assert "unknown setting" in msg and "spelling" in msg


def test_unknown_top_level_section(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "feed:\n" + GOOD_FEED))
    assert "feed: unknown setting" in msg


def test_duplicate_names_name_both_entries(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "feeds:\n"
        + GOOD_FEED
        + "  - name: Other\n    url: https://o.example/feed\n"
        + "  - name: good FEED\n    url: https://g2.example/feed\n",
    )
    msg = _error(p)
    assert "feeds[2] ('good FEED')" in msg and "feeds[0]" in msg
    assert "its own name" in msg


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("5 parsecs", "is not a duration"),
        ("-5m", "is not a duration"),
        ("-3", "is not a duration"),
        ("0", "longer than 0"),
        ("0s", "longer than 0"),
        ("true", "is not a duration"),
    ],
)
def test_bad_interval(tmp_path: Path, value: str, expect: str) -> None:
    msg = _error(_write(tmp_path, "feeds:\n" + GOOD_FEED + f"    interval: {value}\n"))
    assert "feeds[0] ('Good feed').interval" in msg
    assert expect in msg and "30m" in msg  # says how to write one


@pytest.mark.parametrize("value", ["99999999999d", "1000000d", "1.0e+300", "36501d"])
def test_absurd_durations_are_refused_not_crashed_on(tmp_path: Path, value: str) -> None:
    # 1000000d used to pass validation and then fail every poll ("date value out of range");
    # 99999999999d raised OverflowError as a traceback.
    msg = _error(_write(tmp_path, f"defaults:\n  backfill_window: {value}\nfeeds:\n" + GOOD_FEED))
    assert "defaults.backfill_window" in msg and "too long" in msg and "36500d" in msg


def test_bad_default_interval_and_limits(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "defaults:\n  interval: 0m\n  concurrency: 0\n  max_body_bytes: -1\nfeeds:\n" + GOOD_FEED,
    )
    msg = _error(p)
    assert "3 problem(s)" in msg
    assert "defaults.interval" in msg
    assert "defaults.concurrency" in msg
    assert "defaults.max_body_bytes" in msg


@pytest.mark.parametrize("code", ["USA", "XX1", "Europe"])
def test_bad_jurisdiction_code(tmp_path: Path, code: str) -> None:
    p = _write(tmp_path, "feeds:\n" + GOOD_FEED + f"    jurisdictions: [US, {code}]\n")
    msg = _error(p)
    assert "feeds[0] ('Good feed').jurisdictions" in msg
    assert repr(code) in msg and "ISO 3166" in msg


def test_bad_language(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "feeds:\n" + GOOD_FEED + "    language: English\n"))
    assert "feeds[0] ('Good feed').language" in msg and "ISO 639-1" in msg


def test_missing_url_and_nameless_entry(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds:\n  - name: No URL\n  - url: https://x.example/feed\n")
    msg = _error(p)
    assert "feeds[0] ('No URL').url: required setting is missing" in msg
    assert "feeds[1].name: required setting is missing" in msg


def test_feeds_not_a_list(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "feeds: https://x.example/feed\n"))
    assert "feeds:" in msg and "should be a list" in msg


def test_yaml_syntax_error_reports_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds:\n" + GOOD_FEED + "  - name: [unclosed\n    url: x\n")
    msg = _error(p)
    assert "not valid YAML" in msg
    m = re.search(r"line (\d+)", msg)
    assert m is not None and int(m.group(1)) in (4, 5)


def test_tab_indentation_reports_line(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "feeds:\n\t- name: A\n"))
    assert "not valid YAML at line 2" in msg


def test_duplicate_key_is_refused_not_silently_merged(tmp_path: Path) -> None:
    # Plain YAML keeps the second `feeds:` and drops the first list without a word.
    p = _write(tmp_path, "feeds:\n" + GOOD_FEED + "defaults:\n  interval: 1h\nfeeds: []\n")
    msg = _error(p)
    assert "'feeds' appears twice" in msg and "line 1" in msg
    assert "line 6" in msg  # where the second one is


def test_duplicate_key_inside_an_entry(tmp_path: Path) -> None:
    msg = _error(_write(tmp_path, "feeds:\n" + GOOD_FEED + "    url: https://other/\n"))
    assert "'url' appears twice" in msg


def test_missing_file(tmp_path: Path) -> None:
    msg = _error(tmp_path / "nope.yaml")
    assert "no such file" in msg and "--feeds" in msg and "--sample" in msg


@pytest.mark.parametrize("text", ["", "   \n\n", "# just a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    msg = _error(_write(tmp_path, text))
    assert "empty" in msg and "feeds:" in msg


def test_folder_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    msg = _error(tmp_path / "conf")
    assert "folder" in msg


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "feeds.yaml"
    p.write_bytes(b"feeds:\n  - name: caf\xe9\n    url: https://x.example/\n")
    assert "cannot read it" in _error(p)


def test_scalar_document(tmp_path: Path) -> None:
    assert "expected a mapping" in _error(_write(tmp_path, "just some words\n"))


def test_bare_list_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, GOOD_FEED.replace("  -", "-").replace("    ", "  ")))
    assert [f.name for f in cfg.feeds] == ["Good feed"]


def test_subscription_errors_are_explained(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "feeds:\n" + GOOD_FEED + "subscriptions:\n"
        "  - name: team\n    destination: {platform: slack-webhook}\n"
        "  - destination: {platform: discord, channel: '111111111111111111'}\n"
        "    topics: [weather]\n"
        "    timezone: Mars/Olympus\n    at: '25:00'\n",
    )
    msg = _error(p)
    assert "subscriptions[0] ('team').destination" in msg and "webhook_env" in msg
    assert "subscriptions[1].topics" in msg and "'weather'" in msg
    assert "Mars/Olympus" in msg and "'25:00'" in msg


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "feeds:\n  - name: A\n    url: nope\n  - name: B\n    url: https://b/\n    interval: x\n",
    )
    msg = _error(p)
    assert "2 problem(s)" in msg
    assert "feeds[0] ('A').url" in msg and "feeds[1] ('B').interval" in msg


def test_relative_file_urls_resolve_against_the_config_folder(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    p = _write(sub, "feeds:\n  - name: Local\n    url: file:data/x.xml\n")
    cfg = load_config(p)
    assert cfg.resolve_url(cfg.feeds[0].url) == (sub / "data" / "x.xml").resolve().as_uri()
    assert cfg.resolve_url("https://x.example/feed") == "https://x.example/feed"
    assert cfg.resolve_url("file:///abs/x.xml") == "file:///abs/x.xml"


@pytest.mark.parametrize("td", [timedelta(seconds=90), timedelta(minutes=30), timedelta(hours=2)])
def test_format_duration_round_trips(td: timedelta) -> None:
    assert parse_duration(format_duration(td)) == td
    assert format_duration(timedelta(days=3650)) == "3650d"


# ----------------------------------------------------------------------------- shipped files


def _check_languages(cfg: AppConfig, at_least: set[str]) -> None:
    langs = {f.language for f in cfg.feeds}
    assert at_least <= langs, f"missing languages: {at_least - langs}"


def test_shipped_feeds_yaml_validates() -> None:
    cfg = load_config(SHIPPED)
    assert len(cfg.feeds) >= 25
    _check_languages(cfg, {"en", "zh", "de", "fr", "es", "ja", "ko", "pt", "it"})
    urls = [f.url for f in cfg.feeds]
    assert len(set(urls)) == len(urls), "a feed is listed twice"
    assert all(u.startswith("https://") for u in urls)
    assert all(f.language for f in cfg.feeds), "every default feed states its language"
    for f in cfg.feeds:
        iv = cfg.interval_for(f)
        assert timedelta(minutes=15) <= iv <= timedelta(hours=6), f"{f.name}: interval {iv}"
    # Government pages change slowly: none of them is polled more often than hourly.
    gov_hosts = (
        "europa.eu",
        "gov.uk",
        "nist.gov",
        "ftc.gov",
        "whitehouse.gov",
        "federalreg",
        "gov.cn",
        "go.jp",
        "go.kr",
        "korea.kr",
        "un.org",
        "oecd.org",
    )
    for f in cfg.feeds:
        if any(h in f.url for h in gov_hosts):
            assert cfg.interval_for(f) >= timedelta(hours=1), f.name
    jur = {j for f in cfg.feeds for j in f.jurisdictions}
    assert {"EU", "US", "GB", "CN", "KR"} <= jur
    assert not cfg.subscriptions, "the shipped examples stay commented out"


def _shipped_entries() -> list[tuple[str, str, list[str], str]]:
    """Each `  - name:` entry of the shipped file: (name, the line above it, its own lines,
    the section it is in: the last `# ---- ... ----` rule above it)."""
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    entries: list[tuple[str, str, list[str], str]] = []
    section = ""
    for i, line in enumerate(lines):
        if re.match(r"  # ---- ", line):
            section = line.strip("# -")
        if not line.startswith("  - name: "):
            continue
        own = []
        for nxt in lines[i + 1 :]:
            if not nxt.startswith("    "):
                break
            own.append(nxt)
        entries.append((line.removeprefix("  - name: "), lines[i - 1], own, section))
    return entries


def test_shipped_feeds_yaml_documents_each_feed() -> None:
    """Every entry has a one-line comment above it saying what it is and why it is there,
    and a note inside it saying where its URL was checked."""
    text = SHIPPED.read_text(encoding="utf-8")
    lines = text.splitlines()
    entries = _shipped_entries()
    assert len(entries) == len(load_config(SHIPPED).feeds)
    for name, above, own, _section in entries:
        assert re.fullmatch(r"  # (?!-)\S.{20,}", above), f"no comment line above {name}"
        at = lines.index(f"  - name: {name}")
        assert not lines[at - 2].strip(), f"{name}: the comment above it is one line"
        assert any(re.match(r"    # \S", line) for line in own), f"no URL note for {name}"
        assert any(re.match(r"    language: [a-z]{2}$", line) for line in own), name
    header = text.split("\nfeeds:\n", 1)[0]
    for word in ("defaults:", "feeds:", "subscriptions:", "classifier:", "discord", "slack"):
        assert word in header


def test_shipped_feeds_cover_the_jurisdictions_the_bot_is_for() -> None:
    """CN, JP, KR, the EU and international bodies each have feeds, with primary government
    sources for China, Japan and Korea; an Italian-language feed serves Italian users."""
    cfg = load_config(SHIPPED)
    enabled = [f for f in cfg.feeds if f.enabled]
    hinted = {j for f in enabled for j in f.jurisdictions}
    assert {"CN", "JP", "KR", "EU", "INTL", "US", "GB"} <= hinted
    assert any(f.language == "it" for f in enabled)
    for code, hosts in {
        "CN": ("gov.cn",),
        "JP": ("go.jp",),
        "KR": ("go.kr", "korea.kr"),
    }.items():
        primary = [
            f
            for f in enabled
            if code in f.jurisdictions and any(h in f.url.split("/")[2] for h in hosts)
        ]
        assert primary, f"no primary government feed for {code}"
    intl = {f.url.split("/")[2] for f in enabled if "INTL" in f.jurisdictions}
    assert "news.un.org" in intl
    assert any(f.url.split("/")[2].endswith("europarl.europa.eu") for f in enabled)


def test_shipped_firehoses_are_not_polled_often() -> None:
    """Site-wide news feeds carry every story of a busy site: every 1-2 hours is enough, and
    they stay in their own section of the file so that this test sees them."""
    cfg = load_config(SHIPPED)
    by_name = {f.name: f for f in cfg.feeds}
    firehoses = [name for name, _, _, sec in _shipped_entries() if sec.startswith("Busy site")]
    assert len(firehoses) >= 5
    for name in firehoses:
        iv = cfg.interval_for(by_name[name])
        assert timedelta(hours=1) <= iv <= timedelta(hours=2), f"{name}: {iv}"
    # The busiest ones the list has held; wherever they sit, never more than hourly.
    busiest = ("theregister.com/headlines", "heise-atom", "yna.co.kr/", "36kr.com/feed")
    for feed in cfg.feeds:
        if any(part in feed.url.casefold() for part in busiest):
            assert cfg.interval_for(feed) >= timedelta(hours=1), feed.name


def test_sample_config_is_offline_and_posts_everything() -> None:
    cfg = load_config(SAMPLE_CONFIG)
    assert 5 <= len(cfg.feeds) <= 7
    assert cfg.defaults.backfill_window >= timedelta(days=3650)
    assert cfg.defaults.interval == timedelta(minutes=1)
    _check_languages(cfg, {"en", "zh", "de", "es"})
    for f in cfg.feeds:
        assert f.url.startswith("file:") and not f.url.startswith("file:/"), f.url
        resolved = cfg.resolve_url(f.url)
        assert resolved.startswith("file:///")
        path = Path(resolved.removeprefix("file://"))
        assert path.is_file() and path.parent == SAMPLE_DIR.resolve()


def test_sections_with_everything_commented_out(tmp_path: Path) -> None:
    p = _write(tmp_path, "defaults:\n  # interval: 1h\nfeeds:\n  # - name: later\nsubscriptions:\n")
    cfg = load_config(p)
    assert cfg.feeds == [] and cfg.subscriptions == []
    assert cfg.defaults.interval == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_body_bytes", 1e26),
        ("total_timeout", float("inf")),
        ("read_timeout", float("nan")),
        ("max_redirects", 10_000),
        ("concurrency", 0),
    ],
)
def test_numeric_defaults_are_bounded(key: str, value: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"defaults": {key: value}}, tmp_path / "feeds.yaml")
    assert key in str(caught.value)
