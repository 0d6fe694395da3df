"""The feeds/config file (feeds.yaml): schema, loading, and errors a person can act on."""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot import errors
from bot.lang import normalise_language
from bot.types import DestinationOptions, FeedHealthOptions, FeedOptions, SubscriptionOptions

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


# Longer durations are mistakes, and "now - duration" must stay a valid date.
MAX_DURATION = timedelta(days=36500)


def parse_duration(value: Any) -> timedelta:
    """'15m', '2h', '1d', '90s' or a bare number of minutes; never negative, at most 100
    years."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"{value} is negative: a duration must be 0 or more")
        return _bounded(value, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0 or value != value:  # the second test catches NaN
            raise ValueError(f"{value!r} is not a duration: write e.g. 30m, 2h, 1d or 90s")
        return _bounded(value, float(value) * 60)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            unit = (m.group(2) or "m").lower()
            return _bounded(value, float(m.group(1)) * _UNIT_SECONDS[unit])
    raise ValueError(f"{value!r} is not a duration: write e.g. 30m, 2h, 1d or 90s")


def _bounded(shown: Any, value: timedelta | float) -> timedelta:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{shown!r} is too long: at most {MAX_DURATION.days}d")
    return timedelta(seconds=seconds)


MIN_POLL_INTERVAL = timedelta(minutes=1)


def _poll_interval(value: timedelta | None) -> timedelta | None:
    # Feeds change every few minutes at most; polling faster only burdens their servers.
    if value is not None and value < MIN_POLL_INTERVAL:
        raise ValueError("a feed is polled at most once a minute: write e.g. 5m, 30m or 1h")
    return value


def _positive(value: timedelta) -> timedelta:
    # A zero poll interval or backoff would make the scheduler spin.
    if value <= timedelta(0):
        raise ValueError("must be longer than 0: write e.g. 30m, 2h or 1d")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling parse_duration reads back: 90s, 30m, 2h, 1d."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]

JURISDICTION_RE = re.compile(r"^(?:[A-Z]{2}|EU|INTL)$")
_TAG_RE = re.compile(r"[\w-]{1,40}")


def _code_list(value: Any) -> Any:
    # `jurisdictions: US` or `jurisdictions: "US, EU"` mean the obvious list.
    if isinstance(value, str):
        return [c for c in (p.strip() for p in value.split(",")) if c]
    return value


CodeList = Annotated[list[str], BeforeValidator(_code_list)]


def _check_codes(codes: list[str]) -> list[str]:
    out = []
    for c in codes:
        cu = c.strip().upper()
        if not JURISDICTION_RE.match(cu):
            raise ValueError(
                f"{c!r} is not a jurisdiction code: use ISO 3166 alpha-2 (US, CN, GB...),"
                " EU or INTL"
            )
        out.append(cu)
    return out


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Defaults(_Model):
    interval: PositiveDuration = timedelta(minutes=30)

    _interval = field_validator("interval")(_poll_interval)
    backfill_window: Duration = Field(
        default=timedelta(hours=48),
        description="entries older than this, in a newly added feed, are stored but not posted",
    )
    user_agent: str = (
        "policybot/0.1 (+https://github.com/policybot/policybot; AI-governance news bot)"
    )
    connect_timeout: float = Field(default=10.0, gt=0, le=600, allow_inf_nan=False)
    read_timeout: float = Field(default=20.0, gt=0, le=600, allow_inf_nan=False)
    total_timeout: float = Field(default=60.0, gt=0, le=3600, allow_inf_nan=False)
    # Bounded: memory use follows these (a feed is held whole while it is parsed).
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    concurrency: int = Field(default=32, gt=0, le=1000)
    per_host_concurrency: int = Field(default=2, gt=0, le=100)
    max_backoff: PositiveDuration = timedelta(hours=12)


class FeedConfig(_Model):
    name: str = Field(min_length=1, max_length=120)
    url: str
    interval: PositiveDuration | None = None
    language: str | None = None
    jurisdictions: CodeList = Field(default_factory=list)
    enabled: bool = True
    # Labels for feed routing: a subscription with `feeds: [tag:NAME]` follows these feeds.
    tags: Annotated[list[str], BeforeValidator(_code_list)] = Field(default_factory=list)

    _interval = field_validator("interval")(_poll_interval)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for t in v:
            if not _TAG_RE.fullmatch(t):
                raise ValueError(
                    f"tag {t!r}: use letters, digits, '-' and '_' only (e.g. privacy, eu-dpa)"
                )
        return list(dict.fromkeys(v))

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https", "file") or (
            parts.scheme != "file" and not parts.netloc
        ):
            raise ValueError(f"{v!r} is not an http(s) URL (or file: URL)")
        if any(c.isspace() for c in v):
            raise ValueError(f"{v!r} contains a space: encode it as %20 or remove it")
        return v

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        if v is None:
            return v
        # A code, not a name: "English" is a mistake worth pointing out in a config file.
        code = normalise_language(v) if re.fullmatch(r"[a-zA-Z]{2,3}(?:[-_]\w+)*", v) else None
        if code is None:
            raise ValueError(
                f"{v!r} is not a language code: use ISO 639-1 such as en, zh, ja (ISO 639-3"
                " for a language without one, such as fil)"
            )
        return code

    @field_validator("jurisdictions")
    @classmethod
    def _jur(cls, v: list[str]) -> list[str]:
        return _check_codes(v)


class DestinationConfig(_Model):
    """Where a subscription posts. Webhook URLs are secrets: name an environment variable."""

    platform: Literal["console", "discord", "slack", "discord-webhook", "slack-webhook"]
    channel: str | None = Field(default=None, description="channel id (discord/slack bot)")
    guild: str | None = Field(default=None, description="Discord guild or Slack workspace id")
    webhook_env: str | None = Field(
        default=None, description="environment variable holding the webhook URL"
    )

    @model_validator(mode="after")
    def _needs(self) -> DestinationConfig:
        if self.platform in ("discord", "slack") and not self.channel:
            raise ValueError(f"a {self.platform} destination needs `channel` (the channel id)")
        if self.platform == "discord" and not re.fullmatch(r"\d{15,22}", self.channel or ""):
            raise ValueError(
                f"discord `channel` must be the channel's numeric id, not {self.channel!r}"
                " (Developer Mode on, right-click the channel, Copy Channel ID)"
            )
        if self.platform == "slack" and not re.fullmatch(
            r"[CGD][A-Z0-9]{6,20}", self.channel or ""
        ):
            raise ValueError(
                f"slack `channel` must be the channel's id (C0123ABCD), not {self.channel!r}"
                " (channel details, at the bottom)"
            )
        if self.platform.endswith("-webhook") and not self.webhook_env:
            raise ValueError(
                f"a {self.platform} destination needs `webhook_env`: the name of an environment"
                " variable that holds the webhook URL (secrets stay out of this file)"
            )
        return self


def _check_feed_spec(label: str, spec: str, names: dict[str, str], tags: set[str]) -> None:
    """A feed name of the file or tag:NAME of one of its tags, else ValueError."""
    if spec.casefold().startswith("tag:"):
        tag = spec[4:].strip()
        if not tag:
            raise ValueError(f"{label}: {spec!r} needs a tag name: tag:privacy")
        if tag.casefold() not in tags:
            raise ValueError(
                f"{label}: no feed has the tag {tag!r}; give feeds `tags: [{tag}]`, or check"
                " the spelling"
            )
    elif spec.casefold() not in names:
        close = difflib.get_close_matches(spec, list(names.values()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{label}: no feed is called {spec!r}{hint}; name a feed of this file's `feeds:`,"
            " or tag:NAME"
        )


class SubscriptionConfig(_Model):
    name: str | None = None
    destination: DestinationConfig
    jurisdictions: CodeList = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    instruments: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    mode: Literal["instant", "daily", "weekly"] = "instant"
    at: str = Field(default="09:00", description="digest time HH:MM")
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    timezone: str = "UTC"
    # Feed routing: feed names of this file, or tag:NAME (every feed with that tag).
    feeds: Annotated[list[str], BeforeValidator(_code_list)] = Field(default_factory=list)
    # Exclusions: whole words (as `keywords`), jurisdictions and topics that keep a story out.
    exclude: list[str] = Field(default_factory=list)
    exclude_jurisdictions: CodeList = Field(default_factory=list)
    exclude_topics: list[str] = Field(default_factory=list)
    # Feeds (names of this file, or tag:NAME) whose stories are left out.
    exclude_feeds: Annotated[list[str], BeforeValidator(_code_list)] = Field(default_factory=list)
    # Pings and threads (README, Subscriptions): one line each, to ease merging.
    mention: str | None = Field(default=None, description="Discord role id or Slack group id")
    mention_min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    mention_instruments: list[str] = Field(default_factory=list)
    post_as: Literal["message", "thread", "forum"] = "message"
    digest_thread: bool = False

    @field_validator("jurisdictions", "exclude_jurisdictions")
    @classmethod
    def _jur(cls, v: list[str]) -> list[str]:
        return _check_codes(v)

    @field_validator("mention", mode="before")
    @classmethod
    def _mention_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v  # a role id written without quotes

    @model_validator(mode="after")
    def _delivery(self) -> SubscriptionConfig:
        from bot.core.subscriptions import check_delivery
        from bot.errors import InputError

        try:
            checked = check_delivery(self.options())
        except InputError as exc:
            raise ValueError(str(exc)) from None
        self.mention = checked.mention
        return self

    @field_validator("topics", "exclude_topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        from bot.verdict import TOPICS

        for t in v:
            if t not in TOPICS:
                raise ValueError(f"unknown topic {t!r}: choose from {', '.join(TOPICS)}")
        return v

    @field_validator("keywords", "exclude")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        if any(not w.strip() for w in v):
            raise ValueError("an empty keyword matches nothing: remove it")
        return v

    @model_validator(mode="after")
    def _no_contradiction(self) -> SubscriptionConfig:
        for field, include, exclude in (
            ("jurisdictions", self.jurisdictions, self.exclude_jurisdictions),
            ("topics", self.topics, self.exclude_topics),
        ):
            both = sorted(set(include) & set(exclude))
            if both:
                raise ValueError(
                    f"{', '.join(both)} is both in `{field}` and in `exclude_{field}`:"
                    " keep it in one of them"
                )
        both = sorted({w.casefold() for w in self.keywords} & {w.casefold() for w in self.exclude})
        if both:
            raise ValueError(
                f"{', '.join(both)} is both in `keywords` and in `exclude`: keep it in one"
            )
        return self

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise ValueError(f"{v!r} is not a time of day: write HH:MM, e.g. 09:00")
        return f"{int(m.group(1)):02d}:{m.group(2)}"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r}: use an IANA name such as Europe/Berlin"
            ) from None
        return v

    def options(self) -> SubscriptionOptions:
        """This subscription as the plain record routing takes."""
        d = self.destination
        return SubscriptionOptions(
            destination=DestinationOptions(
                d.platform, d.guild or "", d.channel or "", d.webhook_env or ""
            ),
            name=self.name,
            jurisdictions=tuple(self.jurisdictions),
            topics=tuple(self.topics),
            instruments=tuple(self.instruments),
            keywords=tuple(self.keywords),
            languages=tuple(self.languages),
            min_score=float(self.min_score),
            mode=self.mode,
            at=self.at,
            day=self.day,
            timezone=self.timezone,
            feeds=tuple(self.feeds),
            exclude=tuple(self.exclude),
            exclude_jurisdictions=tuple(self.exclude_jurisdictions),
            exclude_topics=tuple(self.exclude_topics),
            mention=self.mention,
            mention_min_score=float(self.mention_min_score),
            mention_instruments=tuple(self.mention_instruments),
            post_as=self.post_as,
            digest_thread=self.digest_thread,
            exclude_feeds=tuple(self.exclude_feeds),
        )


class ClassifierConfig(_Model):
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    lexicons: list[Path] = Field(
        default_factory=list,
        description="extra lexicon YAML files (same format as bot/classify/data), relative to"
        " this file",
    )


class FeedHealthConfig(_Model):
    """`feed_health:` when a failing, gone or moved feed is announced in the channels."""

    enabled: bool = True
    warn_after: PositiveDuration = Field(
        default=timedelta(hours=6), description="a feed failing this long gets a warning"
    )
    recent: PositiveDuration = Field(
        default=timedelta(days=14),
        description="channels that got the feed's stories this recently are told",
    )
    channel: DestinationConfig | None = Field(
        default=None, description="an ops channel that gets every notice instead"
    )


class AppConfig(_Model):
    defaults: Defaults = Field(default_factory=Defaults)
    feeds: list[FeedConfig] = Field(default_factory=list)
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    feed_health: FeedHealthConfig = Field(default_factory=FeedHealthConfig)
    # Where the file was read from: relative paths (file: URLs, lexicons) resolve against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # `feeds:` with every entry commented out reads as null: the same as leaving it out.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    @model_validator(mode="after")
    def _unique_feeds(self) -> AppConfig:
        seen: dict[str, int] = {}
        for i, f in enumerate(self.feeds):
            key = f.name.casefold()
            if key in seen:
                raise ValueError(
                    f"feeds[{i}] ({f.name!r}) has the same name as feeds[{seen[key]}]:"
                    " every feed needs its own name"
                )
            seen[key] = i
        urls: dict[str, int] = {}
        for i, f in enumerate(self.feeds):
            key = _url_key(f.url)
            if key in urls:
                raise ValueError(
                    f"feeds[{i}] ({f.name!r}) has the same URL as feeds[{urls[key]}]"
                    f" ({self.feeds[urls[key]].name!r}): list each feed once"
                )
            urls[key] = i
        return self

    @model_validator(mode="after")
    def _known_feeds(self) -> AppConfig:
        # A subscription's `feeds:` names this file's feeds (or their tags): a typo would
        # otherwise follow nothing, silently.
        names = {f.name.casefold(): f.name for f in self.feeds}
        tags = {t.casefold() for f in self.feeds for t in f.tags}
        for i, sub in enumerate(self.subscriptions):
            label = f"subscriptions[{i}]" + (f" ({sub.name!r})" if sub.name else "")
            for key, specs in (("feeds", sub.feeds), ("exclude_feeds", sub.exclude_feeds)):
                for spec in specs:
                    _check_feed_spec(f"{label}: {key}", spec, names, tags)
            both = {f.casefold() for f in sub.feeds} & {f.casefold() for f in sub.exclude_feeds}
            if both:
                raise ValueError(
                    f"{label}: {', '.join(sorted(both))} is both in `feeds` and in"
                    " `exclude_feeds`: keep it in one"
                )
        return self

    def interval_for(self, feed: FeedConfig) -> timedelta:
        return feed.interval or self.defaults.interval

    def feed_options(self) -> list[FeedOptions]:
        """The feeds as the plain records the store takes."""
        return [
            FeedOptions(
                name=f.name,
                url=self.resolve_url(f.url),
                interval=self.interval_for(f),
                language=f.language,
                jurisdictions=tuple(f.jurisdictions),
                enabled=f.enabled,
                tags=tuple(f.tags),
            )
            for f in self.feeds
        ]

    def feed_health_options(self) -> FeedHealthOptions:
        """`feed_health:` as the plain record the engine takes."""
        fh = self.feed_health
        ops = None
        if fh.channel is not None:
            d = fh.channel
            ops = DestinationOptions(
                d.platform, d.guild or "", d.channel or "", d.webhook_env or ""
            )
        return FeedHealthOptions(
            enabled=fh.enabled, warn_after=fh.warn_after, recent=fh.recent, ops_channel=ops
        )

    def subscription_options(self) -> list[SubscriptionOptions]:
        """The subscriptions as the plain records routing takes."""
        return [sc.options() for sc in self.subscriptions]

    def resolve_url(self, url: str) -> str:
        """Make a relative `file:` URL absolute against the config file's folder."""
        if url.startswith("file:") and not url.startswith("file:///"):
            rel = url[len("file:") :].lstrip("/") if url.startswith("file://") else url[5:]
            return (self.base_dir / rel).resolve().as_uri()
        return url


def _url_key(url: str) -> str:
    """A URL as the same feed: scheme and host in any case, with or without a final slash."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


# A problem in the config file, worded for a person: file, entry, what to fix.
ConfigError = errors.ConfigError


def _describe_location(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for p in loc:
        if isinstance(p, int):
            name = None
            if isinstance(node, list) and 0 <= p < len(node) and isinstance(node[p], dict):
                name = node[p].get("name")
            parts.append(f"[{p}]" + (f" ({name!r})" if name else ""))
            node = node[p] if isinstance(node, list) and 0 <= p < len(node) else None
        else:
            parts.append(("." if parts else "") + str(p))
            node = node.get(p) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def format_validation_error(path: Path, err: ValidationError, data: Any) -> str:
    lines = [f"{path}: {err.error_count()} problem(s):"]
    for e in err.errors():
        where = _describe_location(tuple(e["loc"]), data)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling; see README, 'feeds.yaml')"
        elif e["type"] == "missing":
            msg = "required setting is missing"
        elif e["type"] == "list_type":
            msg = "should be a list: one line per item, each starting with `- `"
        # Whole-file checks (duplicate names) already name the entries in their message.
        lines.append(f"  - {where}: {msg}" if e["loc"] else f"  - {msg}")
    return "\n".join(lines)


def parse_config(data: Any, path: Path) -> AppConfig:
    if data is None:
        data = {}
    if isinstance(data, list):  # a bare list of feeds is accepted too
        data = {"feeds": data}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with `feeds:` (and optional `defaults:`)")
    try:
        cfg = AppConfig.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err, data)) from None
    return cfg


class _StrictMappings(yaml.constructor.SafeConstructor):
    """Refuses a key given twice in one mapping.

    Plain PyYAML keeps the last value silently, so a second `feeds:` would drop every feed
    listed under the first one.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: let the base class report it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} appears twice (first at line {first.start_mark.line + 1});"
                    " merge the two entries",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


class _StrictLoader(_StrictMappings, yaml.SafeLoader):
    """The pure-Python SafeLoader, strict: its error messages are the ones users see."""


# libyaml's parser with the same safe constructor: a feeds file of 1,000 feeds took about a
# tenth of a second to read in pure Python, every start.
_FastLoader: type[yaml.CSafeLoader] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _FastStrictLoader(_StrictMappings, yaml.CSafeLoader):
        """libyaml's parser, the safe constructor, strict."""

    _FastLoader = _FastStrictLoader


def load_yaml_text(text: str, path: Path) -> Any:
    """Parse YAML text as the config loader does; errors name the file, line and column."""
    try:
        if _FastLoader is not None:
            try:
                return yaml.load(text, Loader=_FastLoader)  # safe: no tags run code
            except yaml.YAMLError:
                pass  # read again below, for the pure parser's words and position
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no tags run code
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None


def parse_config_text(text: str, path: Path) -> AppConfig:
    """Validate config text as if it were the file at `path` (relative paths resolve there)."""
    data = load_yaml_text(text, path)
    if data is None:
        raise ConfigError(
            f"{path}: the file is empty. Add a `feeds:` list (see README, 'feeds.yaml'), or run"
            " `policybot run --sample` to try the bundled sample feeds."
        )
    return parse_config(data, path)


def load_config(path: Path) -> AppConfig:
    """Read and validate the config file; every problem is a ConfigError with a clear message."""
    if not path.exists():
        raise ConfigError(
            f"{path}: no such file. Pass --feeds PATH, set POLICYBOT_FEEDS, or run"
            " `policybot run --sample` to try the bundled sample feeds."
        )
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected the feeds.yaml file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from None
    return parse_config_text(text, path)


SAMPLE_DIR = Path(__file__).parent / "samples"
SAMPLE_CONFIG = SAMPLE_DIR / "feeds.yaml"
