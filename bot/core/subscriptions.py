"""Subscriptions of a channel: create, list, remove (the database side of the commands)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from bot.core import validate
from bot.core.validate import show, suggest
from bot.deliver.config_sync import (
    FILTER_FIELDS,
    get_or_create_destination,
    row_values,
    subscription_values,
)
from bot.deliver.route import feed_table, subscriptions_changed
from bot.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from bot.store.models import Destination, Subscription
from bot.store.storage import Storage
from bot.types import DestinationOptions, Origin, SubscriptionInfo, SubscriptionOptions


def info(row: Subscription, dest: Destination) -> SubscriptionInfo:
    """A stored subscription as a record."""
    return SubscriptionInfo(
        id=row.id,
        destination=DestinationOptions(
            dest.platform, dest.guild or "", dest.channel or "", dest.webhook_env or ""
        ),
        name=row.name,
        jurisdictions=tuple(row.jurisdictions or ()),
        topics=tuple(row.topics or ()),
        instruments=tuple(row.instruments or ()),
        keywords=tuple(row.keywords or ()),
        languages=tuple(row.languages or ()),
        min_score=float(row.min_score or 0.0),
        mode=row.mode,
        at=row.at,
        day=row.day,
        timezone=row.timezone,
        origin=row.origin,
        created_by=row.created_by,
        feeds=tuple(row.feeds or ()),
        exclude=tuple(row.exclude or ()),
        exclude_jurisdictions=tuple(row.exclude_jurisdictions or ()),
        exclude_topics=tuple(row.exclude_topics or ()),
        muted_until=row.muted_until,
        mention=row.mention,
        mention_min_score=float(row.mention_min_score or 0.0),
        mention_instruments=tuple(row.mention_instruments or ()),
        post_as=row.post_as or "message",
        digest_thread=bool(row.digest_thread),
        exclude_feeds=tuple(row.exclude_feeds or ()),
    )


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two subscriptions do the same: lists compared as sets, any case."""

    def canon(v: dict[str, Any]) -> dict[str, Any]:
        out = dict(v)
        for f in FILTER_FIELDS:
            out[f] = sorted({str(x).casefold() for x in v[f] or ()})
        out["min_score"] = float(v["min_score"] or 0.0)
        return out

    return canon(a) == canon(b)


def check_options(storage: Storage, options: SubscriptionOptions) -> SubscriptionOptions:
    """Refuse contradictions and feeds that do not exist; returns the options with feed
    names (`feeds`, `exclude_feeds`) spelt as stored.

    Raises:
        InputError: a value both included and excluded.
        NotFoundError: a feed name or tag:NAME that no feed has (with close names).
    """
    for field, include, exclude in (
        ("jurisdictions", options.jurisdictions, options.exclude_jurisdictions),
        ("topics", options.topics, options.exclude_topics),
        ("keywords", options.keywords, options.exclude),
    ):
        excluded = {x.casefold() for x in exclude}
        both = [x for x in include if x.casefold() in excluded]
        if both:
            other = "exclude" if field == "keywords" else f"exclude_{field}"
            raise InputError(
                f"{', '.join(both)} is both in `{field}` and in `{other}`: keep it in one"
            )
    if not options.feeds and not options.exclude_feeds:
        return options
    with storage.session() as s:
        table = feed_table(s)
    feeds = _feed_specs(options.feeds, table)
    left_out = _feed_specs(options.exclude_feeds, table)
    both = [x for x in feeds if x.casefold() in {e.casefold() for e in left_out}]
    if both:
        raise InputError(
            f"{', '.join(both)} is both in `feeds` and in `exclude_feeds`: keep it in one"
        )
    return dataclasses.replace(options, feeds=feeds, exclude_feeds=left_out)


def _feed_specs(
    specs: tuple[str, ...], table: list[tuple[int, str, Sequence[str]]]
) -> tuple[str, ...]:
    """Feed names and tag:NAME as stored (any case typed); NotFoundError for unknown ones."""
    names = {name.casefold(): name for _, name, _ in table}
    tags = {str(t).casefold(): str(t) for _, _, ts in table for t in ts}
    out: list[str] = []
    for spec in specs:
        if spec.casefold().startswith("tag:"):
            tag = spec[4:].strip()
            if tag.casefold() not in tags:
                raise NotFoundError(
                    f"no feed has the tag {show(tag)!r} (tags are given to feeds in the"
                    " config file)",
                    [f"tag:{t}" for t in suggest(tag, list(tags.values()))],
                )
            out.append(f"tag:{tags[tag.casefold()]}")
        else:
            if spec.casefold() not in names:
                raise NotFoundError(
                    f"no feed is called {show(spec)!r}: see `/policy feeds`",
                    suggest(spec, list(names.values())),
                )
            out.append(names[spec.casefold()])
    return tuple(dict.fromkeys(out))


def check_delivery(options: SubscriptionOptions) -> SubscriptionOptions:
    """The ping and thread options, checked against what the destination can do (the
    mention written as a bare id). Raises InputError saying what to change."""
    d = options.destination
    if options.mention_instruments and not options.mention:
        raise InputError("mention_instruments needs `mention`: the role or group to ping")
    if options.mention_min_score and not options.mention:
        raise InputError("mention_min_score needs `mention`: the role or group to ping")
    if not 0.0 <= options.mention_min_score <= 1.0:
        raise InputError("mention_min_score is a score from 0 to 1")
    return dataclasses.replace(
        options,
        mention=validate.mention(d.platform, options.mention) if options.mention else None,
        post_as=validate.post_as(d.platform, options.post_as, mode=options.mode),
        digest_thread=validate.digest_thread(d.platform, options.digest_thread, mode=options.mode),
    )


def _in_scope(platform: str, scope: str) -> Select[Subscription, Destination]:
    return (
        select(Subscription, Destination)
        .join(Destination, Destination.id == Subscription.destination_id)
        .where(Destination.platform == platform, Destination.guild == scope)
    )


def subscribe(
    storage: Storage,
    options: SubscriptionOptions,
    *,
    origin: Origin,
    created_by: str,
    now: datetime,
    limit: int,
) -> SubscriptionInfo:
    """Store a subscription for `options.destination`; refuses a duplicate or one too many."""
    options = check_delivery(options)
    d = options.destination
    options = check_options(storage, options)
    wanted = subscription_values(options)
    with storage.write() as s:
        dest = get_or_create_destination(s, d.platform, guild=d.guild, channel=d.channel)
        rows = list(s.scalars(select(Subscription).where(Subscription.destination_id == dest.id)))
        for r in rows:
            if _same(row_values(r), wanted):
                raise ConflictError(
                    f"this channel has the same subscription already (id {r.id});"
                    f" remove it first with `unsubscribe {r.id}`"
                )
        if len(rows) >= limit:
            raise InputError(
                f"this channel has {len(rows)} subscriptions already (at most {limit})"
            )
        row = Subscription(
            destination_id=dest.id,
            origin=origin.value,
            created_by=created_by[:200],
            created_at=now,
            **wanted,
        )
        s.add(row)
        s.flush()
        out = info(row, dest)
    subscriptions_changed()
    return out


def subscriptions(
    storage: Storage, platform: str, scope: str, channel: str | None
) -> list[SubscriptionInfo]:
    """The subscriptions of one channel, or of every channel in the scope when None."""
    stmt = _in_scope(platform, scope)
    if channel is not None:
        stmt = stmt.where(Destination.channel == channel)
    with storage.session() as s:
        return [info(row[0], row[1]) for row in s.execute(stmt.order_by(Subscription.id))]


def unsubscribe(
    storage: Storage, platform: str, scope: str, channel: str, target: int | None
) -> int:
    """Remove one subscription of the scope by id, or (target None) every subscription of
    the channel made outside the config file; returns how many were removed."""
    with storage.write() as s:
        if target is None:
            stmt = _in_scope(platform, scope).where(
                Destination.channel == channel, Subscription.origin != Origin.CONFIG.value
            )
            rows = [row[0] for row in s.execute(stmt)]
            for r in rows:
                s.delete(r)
            n = len(rows)
        else:
            found = s.execute(_in_scope(platform, scope).where(Subscription.id == target)).first()
            if found is None:  # another scope's id looks exactly like a missing one
                raise NotFoundError(f"no such subscription: {target}")
            row = found[0]
            if row.origin == Origin.CONFIG.value:
                raise PermissionDenied(
                    f"subscription {target} comes from the bot's config file: the operator"
                    " removes it there"
                )
            s.delete(row)
            n = 1
    if n:
        subscriptions_changed()
    return n
