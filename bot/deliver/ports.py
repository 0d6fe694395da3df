"""The sender protocol: one destination, rendered payloads in, a classified result out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bot import errors
from bot.types import Digest, Placement, Source, StoryPost

PLACEMENT_KEY = "_placement"  # a payload's Placement (a dict key senders read and drop)


class Outcome(StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"  # try again later: 429, 5xx, timeouts, connection errors
    PERMANENT = "permanent"  # the destination is unusable: no access, unknown channel, bad token
    REJECTED = "rejected"  # this message is refused (e.g. 400 invalid body); others may pass


@dataclass(frozen=True, slots=True)
class DestinationInfo:
    """A destination row detached from the ORM."""

    id: int
    platform: str  # console | discord | slack | discord-webhook | slack-webhook
    guild: str = ""
    channel: str = ""
    webhook_env: str = ""

    def label(self) -> str:
        if self.platform == "console":
            return "console"
        if self.webhook_env:
            return f"{self.platform} ${self.webhook_env}"
        where = f"{self.guild}/" if self.guild else ""
        return f"{self.platform} {where}{self.channel}"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    delivered: int = 0  # how many of the payloads were posted, in order
    error: str | None = None
    retry_after: float | None = None  # seconds the platform asked us to wait
    message_ids: tuple[str, ...] = ()
    # PERMANENT because the platform refused our credentials (a token revoked or mistyped):
    # the destination itself may be fine, so it is tried again once the bot restarts.
    credentials: bool = False
    # The thread the first payload started or was posted in (Discord thread id, Slack ts),
    # for posts that go into it later (follow-ups, a digest's stories).
    thread_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SENT


def part_nonce(nonce: str, part: int) -> str:
    """The nonce of one part of a message; Discord allows 25 characters."""
    return f"{nonce}-{part}"[:25]


class Sender(Protocol):
    """Posts payloads (from the renderer of its platform) to one destination, in order.

    Part i of the call carries the nonce `part_nonce(nonce, first_part + i)`, so a resend
    after a crash reuses the nonce of the very same part. `resend`: the first part was in
    flight when a process died, so it may already be posted; a sender that can look (the
    Slack bot, in the channel's history) does not post it twice. Sending stops at the first failure;
    `delivered` says how many went out. Senders never raise for platform errors.
    """

    async def send(
        self,
        destination: DestinationInfo,
        payloads: Sequence[Any],
        nonce: str,
        *,
        first_part: int = 0,
        resend: bool = False,
    ) -> SendResult: ...

    async def aclose(self) -> None: ...


class Styler(Protocol):
    """The platform rendering of pings, threads and follow-ups (bot.platforms.STYLER)."""

    def place(self, kind: str, payload: Any, placement: Placement) -> Any:
        """The payload with the mention shown and the placement attached for the sender."""
        ...

    def digest_header(self, kind: str, digest: Digest) -> Any:
        """A digest's header alone (title, period, counts): the parent of its thread."""
        ...

    def followup(self, kind: str, post: StoryPost, source: Source) -> list[Any]:
        """The message that tells a story's thread about one more source."""
        ...


class WebhookUrlMissing(errors.PlatformError):
    pass


def webhook_url(destination: DestinationInfo) -> str:
    """The webhook URL from the environment variable the destination names."""
    name = destination.webhook_env
    url = os.environ.get(name, "").strip() if name else ""
    if not url:
        raise WebhookUrlMissing(
            f"environment variable {name or '(none)'} holding the webhook URL is not set"
        )
    return url
