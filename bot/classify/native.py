"""Which build of the classifier's per-item path runs: its modules (MODULES: the matcher, the
kernel and the steps after it) as the C extensions that setup.py compiles with mypyc, or as the
pure-Python sources beside them. Both give the same verdicts (tests/classify/test_native.py
checks it); the compiled build is faster.

The compiled modules are used only when native.json, which the build writes once all of them
are built, records the very sources that sit beside them. A checkout edited since its last
`pip install -e .`, or a build that failed and left older modules behind, runs its sources
instead, with a warning: a stale extension must never hide a change. Nor does an extension
of a module that the build no longer compiles: its source runs.

bot/classify/__init__.py calls select() before anything imports the modules.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# What setup.py compiles, each after the modules it imports: the pure-Python sources are loaded
# in this order, so that none of them imports a compiled module.
MODULES = (
    "bot.classify.matcher",
    "bot.classify.kernel",
    "bot.classify.relevance",
    "bot.classify.evidence",
    "bot.classify.instruments",
    "bot.classify.jurisdictions",
    "bot.classify.topics",
    "bot.classify.rules",
    "bot.classify.engine",
)
MANIFEST = "native.json"
PURE_ENV = "POLICYBOT_PURE_PYTHON"
_PACKAGE = "bot.classify"
_HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Build:
    compiled: bool
    reason: str  # why the pure-Python sources run ("" when compiled)

    def describe(self) -> str:
        return "compiled (mypyc)" if self.compiled else f"pure Python ({self.reason})"


_build: Build | None = None


def build() -> Build:
    """The build in use (selecting it on first call)."""
    return _build or select()


def _source(name: str) -> Path:
    return _HERE / (name.rsplit(".", 1)[1] + ".py")


def select() -> Build:
    """Decide once, before the modules are imported, and import them accordingly."""
    global _build
    if _build is None:
        _shadow_leftovers()
        _build = _select()
    return _build


def _select() -> Build:
    if os.environ.get(PURE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return _pure(f"{PURE_ENV} is set", warn=False)
    compiled = [_compiled_origin(name) for name in MODULES]
    if not any(compiled):
        # Installed without a C compiler, or from a source tree: the usual import finds them.
        return Build(False, "not compiled at install")
    if not all(compiled):
        return _pure("only some modules are compiled: reinstall to rebuild them")
    try:
        recorded = json.loads((_HERE / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _pure("the compiled modules have no record of their sources: reinstall")
    for name in MODULES:
        src = _source(name)
        try:
            digest = hashlib.sha256(src.read_bytes()).hexdigest()
        except OSError:
            return _pure(f"{src.name} is missing")
        if recorded.get(name) != digest:
            return _pure(f"{src.name} changed since it was compiled: reinstall to recompile")
    try:
        for name in MODULES:
            importlib.import_module(name)
    except ImportError as exc:
        for name in MODULES:
            sys.modules.pop(name, None)
        return _pure(f"the compiled modules do not load ({exc})")
    return Build(True, "")


def _compiled_origin(name: str) -> str | None:
    """Where the import system would load `name` from, if that is an extension module."""
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec else None
    if origin and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        return origin
    return None


def _pure(reason: str, warn: bool = True) -> Build:
    """Load the modules from their sources, ahead of any compiled module beside them."""
    if warn:
        log.warning("classifier: running the pure-Python modules (slower): %s", reason)
    for name in MODULES:
        _load_source(name)
    return Build(False, reason)


def _load_source(name: str) -> None:
    spec = importlib.util.spec_from_file_location(name, _source(name))
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has one
        raise ImportError(f"cannot load {_source(name)}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    setattr(sys.modules[_PACKAGE], name.rsplit(".", 1)[1], module)


def _shadow_leftovers() -> None:
    """Extension modules beside the sources that are not MODULES, left by an older build,
    would be imported in place of their sources: have the import system take the sources."""
    names = set()
    for path in sorted(_HERE.iterdir()):
        stem, dot, rest = path.name.partition(".")
        name = f"{_PACKAGE}.{stem}"
        if (
            dot
            and "." + rest in importlib.machinery.EXTENSION_SUFFIXES
            and name not in MODULES
            and _source(name).is_file()
        ):
            log.warning(
                "classifier: ignoring %s, left by an older build: reinstall to remove it",
                path.name,
            )
            names.add(name)
    if names:
        sys.meta_path.insert(0, _SourceFinder(frozenset(names)))


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the named modules of the package as their .py sources."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, _source(fullname))
