"""Modules loaded on their first use, so that a one-shot command imports only what it runs.

The core service reaches every command family (polling, delivery, routing, feedback, mute),
and importing them all costs a `policybot search` more than the search itself. A family held
as a `LazyModule` is imported when one of its attributes is first read; importing twice from
two threads is safe, as `importlib.import_module` takes the module's import lock.

Callers keep their type checking by importing the real module under `TYPE_CHECKING`:

    if TYPE_CHECKING:
        from bot.core import feeds as _feeds
    else:
        _feeds = LazyModule("bot.core.feeds")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module `name` until an attribute is read, then imports it."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r}, {state}>"
