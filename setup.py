"""Build hook: compile the classifier's hot path with mypyc, or fall back to pure Python.

Everything else about the package is declared in pyproject.toml. The modules below are the
classifier's per-item path (the matcher, the kernel's loop over its matches, and the steps that
read what it found), plain, type-annotated Python; mypyc (part of mypy) turns them into C
extensions that classify about 1.5 times as fast and load the classifier faster.
The build never fails for want of it: without mypyc, a C compiler or Python's headers, or with
POLICYBOT_PURE_PYTHON=1 set, the package installs as pure Python and runs the same code, only
slower. bot/classify/native.py picks the build at
import time and refuses compiled modules that no longer match their sources.

The Alembic scripts stay in migrations/ at the top of the tree; build_py copies them into the
package as bot/_migrations, so an installed wheel can create and upgrade its database
(bot/store/db.py looks there first, then in the checkout).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# Compiled together: the classifier's per-item path (bot/classify/native.py lists the same
# modules, each after those it imports). The kernel holds the speed tricks; the others are
# plain Python that compiles as it is.
NATIVE_SOURCES = (
    "bot/classify/matcher.py",
    "bot/classify/kernel.py",
    "bot/classify/relevance.py",
    "bot/classify/evidence.py",
    "bot/classify/instruments.py",
    "bot/classify/jurisdictions.py",
    "bot/classify/topics.py",
    "bot/classify/rules.py",
    "bot/classify/engine.py",
)
MANIFEST_NAME = "native.json"  # written beside the compiled modules
STARTER_FILES = ("feeds.yaml", ".env.example")
MIGRATIONS = HERE / "migrations"
BUNDLED_MIGRATIONS = "bot/_migrations"  # bot.store.db.BUNDLED_MIGRATIONS, inside the package


def _say(msg: str) -> None:
    print(f"policybot: {msg}", file=sys.stderr)


def _ext_modules() -> list[object]:
    if os.environ.get("POLICYBOT_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no"):
        _say("POLICYBOT_PURE_PYTHON is set: installing the pure-Python classifier")
        return []
    sources = [HERE / p for p in NATIVE_SOURCES]
    if not all(p.is_file() for p in sources):
        return []  # a partial tree (the Dockerfile's dependency layer): nothing to compile
    try:
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not available: installing the pure-Python classifier")
        return []
    try:
        # Paths relative to the project (pip builds there): mypyc names the modules after them.
        exts = mypycify(list(NATIVE_SOURCES), group_name="policybot_classify")
    except (Exception, SystemExit) as exc:  # mypyc reports type errors by exiting
        _say(f"mypyc could not compile the classifier ({exc!r}): installing pure Python")
        return []
    for ext in exts:
        # No C compiler or no Python headers: build_ext warns and the install goes on.
        ext.optional = True
    _SOURCE_HASHES.update(
        (
            p.replace("/", ".").removesuffix(".py"),
            hashlib.sha256((HERE / p).read_bytes()).hexdigest(),
        )
        for p in NATIVE_SOURCES
    )
    return list(exts)


_SOURCE_HASHES: dict[str, str] = {}


class BuildExt(build_ext):
    """build_ext that records what the compiled modules were built from (native.json beside
    them), only when every one of them was built just now: bot/classify/native.py uses them
    while the sources beside them still match, so an edited checkout, or a build that failed
    and left older modules behind, runs its pure-Python sources instead."""

    def run(self) -> None:
        names = [e.name for e in self.extensions]
        outputs = [self.get_ext_fullpath(n) for n in names]
        manifest = None
        for n, out in zip(names, outputs, strict=True):
            if n == "bot.classify.kernel":
                manifest = Path(out).parent / MANIFEST_NAME
        if manifest is not None:
            manifest.unlink(missing_ok=True)
            _remove_leftovers(manifest.parent, set(names))
        before = [_mtime(out) for out in outputs]
        super().run()
        after = [_mtime(out) for out in outputs]
        fresh = all(a is not None and a != b for a, b in zip(after, before, strict=True))
        if manifest is not None and _SOURCE_HASHES and fresh:
            manifest.write_text(json.dumps(_SOURCE_HASHES, indent=2) + "\n", encoding="utf-8")
        elif _SOURCE_HASHES:
            _say("the classifier was not compiled (see the warnings above): it runs as pure Python")


class BuildPy(build_py):
    """build_py that also copies the Alembic scripts (migrations/: env.py, script.py.mako and
    versions/*.py) into the built package as bot/_migrations. An editable install skips it:
    there the code reads migrations/ in the checkout. A build without migrations/ fails
    rather than make a wheel whose first run could not create its database."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not (MIGRATIONS / "env.py").is_file():
            raise SystemExit(
                f"policybot: {MIGRATIONS} is missing: the wheel needs the migrations (an sdist"
                " must include them: see MANIFEST.in)"
            )
        dest = Path(self.build_lib) / BUNDLED_MIGRATIONS
        shutil.rmtree(dest, ignore_errors=True)  # no stale copy of a removed migration
        (dest / "versions").mkdir(parents=True)
        shutil.copy2(MIGRATIONS / "env.py", dest / "env.py")
        shutil.copy2(MIGRATIONS / "script.py.mako", dest / "script.py.mako")
        for script in sorted((MIGRATIONS / "versions").glob("*.py")):
            shutil.copy2(script, dest / "versions" / script.name)
        # The starter files `policybot init` writes: the default feed list and .env.example.
        starter = Path(self.build_lib) / "bot" / "app" / "starter"
        starter.mkdir(parents=True, exist_ok=True)
        for name in STARTER_FILES:
            shutil.copy2(HERE / name, starter / name)


def _remove_leftovers(folder: Path, built: set[str]) -> None:
    """Delete the extensions of modules no longer compiled that an earlier in-place build left
    beside their sources: they would be imported in place of the sources."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for path in folder.iterdir():
        stem, _, rest = path.name.partition(".")
        if (
            path.name.endswith(suffixes)
            and "." + rest in suffixes
            and f"bot.classify.{stem}" not in built
            and (folder / f"{stem}.py").is_file()
        ):
            _say(f"removing {path.name}, left by an older build")
            path.unlink()


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": BuildExt, "build_py": BuildPy})
