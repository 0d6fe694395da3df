"""Loggers that load structlog when they first write.

Importing structlog costs a one-shot command about 50 ms (it loads rich and pygments for its
tracebacks), and `policybot search` writes no log line at all. Modules take their logger from
`get_logger`, which returns a stand-in for `structlog.get_logger(name)`; the first call on it
imports structlog, runs the set-up the app registered with `on_load`, and from then on it
passes every call through.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

_pending: list[Callable[[], None]] = []
_lock = threading.Lock()


def on_load(setup: Callable[[], None]) -> None:
    """Run `setup` (say, `structlog.configure(...)`) before the first line is logged: now if
    structlog is already loaded, else when the first logger from `get_logger` is used."""
    with _lock:
        if "structlog" not in sys.modules:
            _pending.append(setup)
            return
    setup()


def _load() -> Any:
    import structlog

    with _lock:
        todo = list(_pending)
        _pending.clear()
    for setup in todo:
        setup()
    return structlog


class _Logger:
    # No __slots__: tests replace a method on a module's logger (monkeypatch.setattr).
    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attr: str) -> Any:
        logger = self._logger
        if logger is None:
            logger = self._logger = _load().get_logger(self._name)
        return getattr(logger, attr)


def get_logger(name: str) -> Any:
    """A structlog logger named `name` (`log.info("event", key=value)`), loaded on first use."""
    return _Logger(name)
