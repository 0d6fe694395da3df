"""One exception tree for the whole bot (after lemon24/reader's ReaderError).

Every error policybot raises on purpose derives from `PolicyBotError`, so a caller (the CLI,
a chat adapter, a web view) can catch one class and show `str(exc)`: a message written for a
person, saying what went wrong and what to do. Subclasses say which part failed.
"""

from __future__ import annotations

from collections.abc import Sequence


class PolicyBotError(Exception):
    """Base of every error policybot raises on purpose; `str()` is meant for people."""


class InputError(PolicyBotError, ValueError):
    """A request, argument or file that cannot be used as given.

    `suggestions` holds close matches ("did you mean") when there are any.
    """

    def __init__(self, message: str, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = tuple(suggestions)


class ConfigError(InputError):
    """The configuration file or the environment is invalid."""


class NotFoundError(InputError, LookupError):
    """A feed, story, subscription or destination that does not exist."""


class ConflictError(InputError):
    """The request repeats or contradicts something that exists (a duplicate subscription)."""


class PermissionDenied(PolicyBotError):
    """The caller may not do this (e.g. only admins may subscribe a channel)."""


class StorageError(PolicyBotError):
    """The database cannot be used: locked by another process, read-only, disk full, too new."""


class ReadOnlyDatabase(StorageError):
    """This process may read the database but not write it (file or folder permissions, a
    read-only mount)."""


class FeedError(PolicyBotError):
    """A feed could not be fetched or parsed; the message says why."""


class PlatformError(PolicyBotError):
    """A chat platform refused or failed a request."""


class CredentialsError(PlatformError):
    """A platform rejected the bot's credentials (token revoked, mistyped, missing scope)."""
