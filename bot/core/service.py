"""PolicyBot: the one way in for every outward surface (CLI, chat commands, a web view).

A facade after lemon24/reader's `Reader`: callers hand it plain values and get typed records
(bot.types) back; the storage, the routing index and the outbox stay behind it, and nothing
outside bot/core, bot/deliver and bot/store touches the ORM. Methods are synchronous (they
talk to the database; an async caller runs them in a thread) except those that go to the
network, which are coroutines. Every error is a `bot.errors.PolicyBotError` whose message is
written for a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.clock import utcnow
from bot.errors import FeedError, InputError, NotFoundError, PolicyBotError
from bot.lazy import LazyModule
from bot.store.coord import SYNC_KEY, LeaderLock
from bot.store.db import cannot_write, database_error
from bot.store.storage import FeedInfo, PollOutcome, Storage
from bot.types import (
    DigestPreview,
    Explanation,
    FeedAdded,
    FeedbackInfo,
    FeedOptions,
    MuteInfo,
    Origin,
    SearchQuery,
    SubscriptionInfo,
    SubscriptionOptions,
    SubscriptionPreview,
)

if TYPE_CHECKING:
    # The engine (aiohttp, the classifier) loads only where it runs.
    from bot.classify import Classifier
    from bot.core import feedback as _feedback
    from bot.core import feeds as _feeds
    from bot.core import mute as _mute
    from bot.core import preview as _preview
    from bot.core import stories as _stories
    from bot.core import subscriptions as _subs
    from bot.core.engine import Engine
    from bot.deliver import route as _route
    from bot.deliver import status as _status
    from bot.deliver import worker as _worker
    from bot.deliver.status import DestinationStatus
    from bot.deliver.worker import DrainStats
    from bot.ingest.check import FeedCheck, Policy
    from bot.store.search import SearchPage
else:
    # Each command family loads when a command first uses it: a search need not import
    # routing, delivery and feedback (bot/lazy.py).
    _feedback = LazyModule("bot.core.feedback")
    _feeds = LazyModule("bot.core.feeds")
    _mute = LazyModule("bot.core.mute")
    _preview = LazyModule("bot.core.preview")
    _stories = LazyModule("bot.core.stories")
    _subs = LazyModule("bot.core.subscriptions")
    _route = LazyModule("bot.deliver.route")
    _status = LazyModule("bot.deliver.status")
    _worker = LazyModule("bot.deliver.worker")

FeedChecker = Callable[[str], Awaitable["FeedCheck"]]


@dataclass(frozen=True, slots=True)
class BotOptions:
    """Plain options the app builds from its config file and environment."""

    database_url: str = "sqlite:///policybot.db"
    # The poll interval of feeds added at run time.
    default_interval: timedelta = timedelta(minutes=30)
    max_runtime_feeds: int = 200  # feeds added from chat or the CLI, all together
    max_subscriptions_per_channel: int = 25
    run_migrations: bool = True
    # For callers that only read (search, feeds status): a SQLite file this process may not
    # write is opened read-only instead of refused.
    read_only_ok: bool = False


@dataclass
class PolicyBot:
    """The core service. Make one with `make_bot`; close it with `close()`."""

    storage: Storage
    options: BotOptions = field(default_factory=BotOptions)
    # Returns the classifier (loaded on first use: `explain` needs it for unclassified items).
    classifier: Callable[[], Classifier] | None = None
    # Checks a feed URL before `add_feed` stores it: a real fetch through the network guard.
    feed_checker: FeedChecker | None = None
    clock: Callable[[], datetime] = utcnow
    # Polling and delivery (bot.core.engine), when this process does them; the app builds it.
    engine: Engine | None = None
    # The database was opened for reading only (BotOptions.read_only_ok): writes fail.
    read_only: bool = False

    def now(self) -> datetime:
        """The service's clock (aware UTC)."""
        return self.clock()

    def close(self) -> None:
        """Release the database connections."""
        self.storage.close()

    @property
    def shared(self) -> bool:
        """Whether several instances may run on this database (PostgreSQL) and share the
        work; on SQLite one process polls and posts at a time."""
        return self.storage.shared

    def leadership(self, what: str) -> LeaderLock:
        """A lock that one instance at a time holds among all those on this database, for a
        singleton such as one chat connection per token (`what` names it, e.g. a hash of
        the token). `try_acquire()` says whether this instance leads now; the lock ends
        with its holder's session, so another instance can take over when it dies. Always
        held on SQLite (one process).

        Args:
            what: the singleton's name; equal names on two instances are one lock.
        """
        return LeaderLock(self.storage.engine, what)

    # -- the config file ------------------------------------------------------------------

    def sync_config(
        self,
        feeds: Sequence[FeedOptions],
        subscriptions: Sequence[SubscriptionOptions] | None = None,
        *,
        has_chat_platform: bool = False,
    ) -> list[FeedInfo]:
        """Make the stored feeds (and, when given, the config-file subscriptions) follow the
        config file; returns the config file's feeds as stored.

        Raises:
            StorageError: the database cannot be written (`ReadOnlyDatabase` when this
                process may only read it), or its disk is full.
        """
        try:
            out = self.storage.sync_feeds(feeds, self.now())
            if subscriptions is not None:
                # Instances starting together sync one after another (else each adds rows).
                with self.storage.write(lock=SYNC_KEY) as s:
                    _route.sync_config_subscriptions(
                        s, subscriptions, has_chat_platform=has_chat_platform
                    )
        except Exception as exc:
            trouble = database_error(exc)
            if trouble is None:
                raise
            raise trouble from None
        return out

    # -- feeds ----------------------------------------------------------------------------

    def feeds(self) -> list[FeedInfo]:
        """Every known feed, by name, with its health fields."""
        return self.storage.feeds()

    def feed(self, name: str) -> FeedInfo:
        """The feed called `name` (any case).

        Raises:
            NotFoundError: no feed has that name (with close names as suggestions).
        """
        found = [f for f in self.storage.feeds() if f.name.casefold() == name.casefold()]
        if not found:
            names = [f.name for f in self.storage.feeds()]
            raise NotFoundError(
                f"no feed is called {_feeds.show(name)!r}", _feeds.suggest(name, names)
            )
        return found[0]

    def feed_warnings(self) -> dict[str, datetime]:
        """Feed name -> when a health warning was posted for it in the channels (or the ops
        channel) and no "recovered" note since: the state `/policy feeds` shows."""
        return _feeds.warnings(self.storage)

    async def add_feed(
        self,
        url: str,
        *,
        name: str | None = None,
        jurisdictions: list[str] | None = None,
        added_by: str,
        origin: Origin = Origin.CHAT,
    ) -> FeedAdded:
        """Check a feed URL with one real fetch, then follow it.

        Raises:
            InputError: not an http(s) URL.
            ConflictError: the feed is followed already, or its name is taken.
            FeedError: the URL does not answer with a feed (the message says why).
        """
        if any(c.isspace() for c in url):
            raise InputError(f"{_feeds.show(url)!r} is not an http(s) URL (a name goes in `name`)")
        from bot.ingest.check import url_problem  # aiohttp: loaded when a feed is added

        problem = url_problem(url)  # bad ports, hosts, brackets: a sentence, never a traceback
        if problem:
            raise InputError(problem)
        p = urlsplit(url)
        _feeds.check_new(self.storage, url, max_runtime_feeds=self.options.max_runtime_feeds)
        check = await self._check(url)
        if not check.ok:
            raise FeedError(f"{_feeds.show(url)}: {check.error}")
        final = (name or check.title or p.hostname or "feed").strip()[:120]
        added, revived = _feeds.add(
            self.storage,
            url=url,
            name=final,
            title=check.title,
            jurisdictions=list(jurisdictions or ()),
            interval=self.options.default_interval,
            origin=origin,
            added_by=added_by,
            now=self.now(),
        )
        return FeedAdded(added, revived, check.entries)

    async def _check(self, url: str) -> FeedCheck:
        checker = self.feed_checker or make_feed_checker()
        return await checker(url)

    def remove_feed(self, name: str, *, removed_by: str) -> str:
        """Stop polling a feed added at run time; returns its name.

        Raises:
            NotFoundError: no such feed. PermissionDenied: it comes from the config file.
            ConflictError: it was removed already.
        """
        return _feeds.remove(self.storage, name, removed_by=removed_by)

    def set_feed_enabled(self, name: str, enabled: bool, *, by: str) -> str:
        """Turn a feed on (clearing what the bot stopped it for: gone, moved, failing; it is
        polled at once) or off (feeds added at run time only). Returns its name.

        Raises:
            NotFoundError: no such feed.
            PermissionDenied: a config-file feed is switched in feeds.yaml instead.
        """
        return _feeds.set_enabled(self.storage, name, enabled, by=by, now=self.now())

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(
        self, options: SubscriptionOptions, *, origin: Origin, created_by: str
    ) -> SubscriptionInfo:
        """Store a subscription for `options.destination`. `options.feeds` (feed names or
        tag:NAME) are checked against the stored feeds and kept as they are spelt there.

        Raises:
            ConflictError: the channel has the same subscription already (the message
                names it).
            NotFoundError: a feed name or tag that no feed has (with close names).
            InputError: the channel has as many subscriptions as allowed, or a value is
                both included and excluded.
        """
        return _subs.subscribe(
            self.storage,
            options,
            origin=origin,
            created_by=created_by,
            now=self.now(),
            limit=self.options.max_subscriptions_per_channel,
        )

    def subscriptions(
        self, platform: str, scope: str, channel: str | None = None
    ) -> list[SubscriptionInfo]:
        """The subscriptions of a channel, or of all channels of a scope (channel None)."""
        return _subs.subscriptions(self.storage, platform, scope, channel)

    def unsubscribe(self, platform: str, scope: str, channel: str, target: int | None) -> int:
        """Remove subscription `target` of the scope, or all non-config ones of the channel
        (target None); returns how many.

        Raises:
            NotFoundError: no such subscription in this scope.
            PermissionDenied: it comes from the config file.
        """
        return _subs.unsubscribe(self.storage, platform, scope, channel, target)

    def mute(
        self,
        platform: str,
        scope: str,
        channel: str,
        duration: str | timedelta,
        *,
        subscription: int | None = None,
    ) -> MuteInfo:
        """Hold back a channel's posts (or one subscription's) for `duration` ("7d", "12h",
        a timedelta). When the mute ends, the held-back stories go to the next digest, or
        (instant subscriptions) to one catch-up digest; see bot.deliver.mute.

        Raises:
            InputError: a duration that is not 1m to 90d.
            NotFoundError: the channel has no subscriptions, or not this one.
        """
        if isinstance(duration, str):
            duration = _mute.parse_mute_duration(duration)
        elif not timedelta(minutes=1) <= duration <= _mute.MAX_MUTE:
            raise InputError(f"a mute lasts from 1m to {_mute.MAX_MUTE.days}d")
        now = self.now()
        return _mute.mute(
            self.storage,
            platform,
            scope,
            channel,
            until=now + duration,
            now=now,
            subscription=subscription,
        )

    def unmute(
        self, platform: str, scope: str, channel: str, *, subscription: int | None = None
    ) -> int:
        """End a channel's (or one subscription's) mute now; returns how many held-back
        stories were queued as its catch-up digest.

        Raises:
            InputError: it is not muted. NotFoundError: no such subscription here.
        """
        return _mute.unmute(
            self.storage, platform, scope, channel, now=self.now(), subscription=subscription
        )

    def mutes(self, platform: str, scope: str, channel: str) -> list[MuteInfo]:
        """The mutes running in a channel (the channel's own first)."""
        return _mute.mutes(self.storage, platform, scope, channel, self.now())

    def preview(self, options: SubscriptionOptions, *, days: int = 7) -> SubscriptionPreview:
        """What a subscription with these filters would have posted in the last `days` days,
        matched by the same code as routing (nothing is stored).

        Raises:
            NotFoundError: a feed name or tag that no feed has.
            InputError: a value both included and excluded; `days` not 1 to 30.
        """
        if not 1 <= days <= 30:
            raise InputError("a preview looks 1 to 30 days back")
        options = _subs.check_options(self.storage, options)
        return _preview.preview(self.storage, options, now=self.now(), days=days)

    # -- stories ----------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchPage:
        """Stories matching the query's words and filters, best first; see bot.store.search
        for the query language.

        Raises:
            InputError: a query or `since` that cannot be searched (SearchError).
            NotFoundError: `source` names no feed.
        """
        return _stories.search(self.storage, query, now=self.now())

    def explain(self, item: str) -> Explanation:
        """Why a story (an id, a URL or words of its title) was flagged, with the evidence.

        Raises:
            NotFoundError: no stored story matches.
        """
        factory = self.classifier

        def classify(title: str, summary: str) -> Any:
            assert factory is not None
            return factory().classify(title, summary)

        return _stories.explain(
            self.storage, item, now=self.now(), classify=classify if factory else None
        )

    def digest_preview(self, platform: str, scope: str, channel: str, hours: int) -> DigestPreview:
        """What a digest of the last `hours` would post to a channel (newest first)."""
        return _preview.digest_preview(
            self.storage, platform, scope, channel, hours=hours, now=self.now()
        )

    # -- relevance feedback ----------------------------------------------------------------------

    def report_not_relevant(
        self, story_id: int, *, platform: str, scope: str, channel: str, user: str
    ) -> FeedbackInfo:
        """Record that a posted story was not relevant ("Not relevant" under an alert). The
        same person saying it twice in a channel is stored once (`created` False).

        Raises:
            NotFoundError: the story is not stored (any more).
        """
        return _feedback.not_relevant(
            self.storage,
            story_id,
            platform=platform,
            scope=scope,
            channel=channel,
            user=user,
            now=self.now(),
        )

    def report_missed(
        self, item: str, *, platform: str, scope: str, channel: str, user: str
    ) -> FeedbackInfo:
        """Record a story that should have been flagged: a stored story named by id, link or
        words of its title; words that match no stored story are kept as the report.

        Raises:
            InputError: nothing given.
            NotFoundError: an id or a link that names no stored story.
        """
        return _feedback.missed(
            self.storage,
            item,
            platform=platform,
            scope=scope,
            channel=channel,
            user=user,
            now=self.now(),
        )

    def feedback(
        self, *, since: datetime | str | None = None, limit: int | None = None
    ) -> list[FeedbackInfo]:
        """Relevance feedback, newest first: since a time (a datetime, or text such as '7d'
        or '2026-11-01'), at most `limit`.

        Raises:
            InputError: a `since` that is not a time.
        """
        return _feedback.listing(self.storage, since=self._since(since), limit=limit)

    def feedback_export(self, *, since: datetime | str | None = None) -> list[dict[str, Any]]:
        """The feedback as labelled eval records (the format of the eval sets: id, title,
        summary, lang, relevant, jurisdictions, topics), one per story, oldest first.

        Raises:
            InputError: a `since` that is not a time.
        """
        items = _feedback.listing(self.storage, since=self._since(since))
        return _feedback.eval_records(items)

    def _since(self, since: datetime | str | None) -> datetime | None:
        if isinstance(since, str):
            from bot.store.search import parse_since

            return parse_since(since, self.now())
        return since

    # -- polling and delivery -----------------------------------------------------------------

    def _engine(self) -> Engine:
        if self.engine is None:
            raise PolicyBotError("this bot was made without polling and delivery (no engine)")
        return self.engine

    async def poll(
        self, name: str | None = None, *, due_only: bool = False, force: bool = True
    ) -> list[PollOutcome]:
        """Poll the active feeds (or the one named): all, or with `due_only` those due;
        `force=False` skips feeds whose server asked for a pause (429/503 Retry-After).

        Raises:
            PolicyBotError: the bot was made without an engine.
        """
        return await self._engine().poll_once(name, due_only=due_only, force=force)

    async def deliver(self, *, until_idle: bool = False) -> DrainStats:
        """Send what is due in the outbox; `until_idle` repeats until nothing due is left."""
        return await self._engine().deliver(until_idle=until_idle)

    async def run_once(self) -> tuple[list[PollOutcome], DrainStats]:
        """One cycle as cron runs it: poll what is due, queue due digests, deliver, close."""
        return await self._engine().run_once()

    # -- delivery ---------------------------------------------------------------------------

    def destinations(self) -> list[DestinationStatus]:
        """Every destination with its queue counts and last error."""
        return _status.destination_status(self.storage)

    def enable_destination(self, destination_id: int) -> int:
        """Clear a destination's permanent error and requeue its parked messages.

        Raises:
            NotFoundError: no destination has that id.
        """
        if not 0 < destination_id < 2**63:
            raise NotFoundError(f"no destination {destination_id}")
        try:
            return _worker.enable_destination(self.storage, destination_id, now=self.now())
        except KeyError:
            raise NotFoundError(f"no destination {destination_id}") from None


def make_feed_checker(
    fetch_options: Mapping[str, Any] | None = None, *, policy: Policy | None = None
) -> FeedChecker:
    """How `add_feed` checks a URL: one real fetch through the poller's fetcher with the
    network guard on (private addresses refused unless POLICYBOT_ALLOW_PRIVATE_FEEDS, or
    `policy`, allows them), parsed by the same bounded parser. `fetch_options` are
    check_feed's limits (timeout, total_timeout, max_redirects, max_bytes, user_agent)."""
    kw = dict(fetch_options or {})

    async def check(url: str) -> FeedCheck:
        from bot.ingest import check as checking  # aiohttp and the guard: loaded when used

        guard = policy or checking.Policy.from_env()
        return await checking.check_feed(url, guard, **kw)

    return check


def make_bot(
    options: BotOptions | None = None,
    *,
    storage: Storage | None = None,
    classifier: Callable[[], Classifier] | None = None,
    feed_checker: FeedChecker | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> PolicyBot:
    """Open the database named by `options` (migrating it) and return the service.

    Raises:
        StorageError: the database cannot be opened or migrated (with `read_only_ok`, a
            SQLite file that cannot be written is opened read-only instead).
    """
    options = options or BotOptions()
    read_only = False
    if storage is None:
        try:
            storage = Storage.open(options.database_url, run_migrations=options.run_migrations)
        except Exception as exc:
            if not (options.read_only_ok and _is_sqlite(options.database_url)):
                raise database_error(exc) or exc from None
            if not cannot_write(exc):
                raise database_error(exc) or exc from None
            storage = Storage.open(options.database_url, read_only=True)
            read_only = True
    return PolicyBot(
        storage,
        options,
        classifier=classifier,
        feed_checker=feed_checker,
        clock=clock,
        read_only=read_only,
    )


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")
