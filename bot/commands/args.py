"""Reading a Request's arguments: bounded, typed, with messages that say what to type."""

from __future__ import annotations

import math
import re
from typing import Any

from bot.commands.types import Caller, Request
from bot.core.validate import show
from bot.errors import InputError, PermissionDenied

MAX_LIST_ITEMS = 20
MAX_ITEM_CHARS = 100


def str_arg(args: dict[str, Any], name: str, max_len: int = 500) -> str | None:
    v = args.get(name)
    if v is None:
        return None
    s = str(v).strip()
    if not s:
        return None
    if len(s) > max_len:
        raise InputError(f"`{name}` is too long (at most {max_len} characters)")
    return s


def int_arg(args: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    v = args.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    if isinstance(v, bool):
        raise InputError(f"`{name}` must be a whole number")
    try:
        n = int(str(v).strip())
    except ValueError:
        raise InputError(f"`{name}` must be a whole number, not {show(v)!r}") from None
    if not lo <= n <= hi:
        raise InputError(f"`{name}` must be between {lo} and {hi}")
    return n


def float_arg(args: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    v = args.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        return default
    what = f"`{name}` must be a number from {lo:g} to {hi:g}, e.g. 0.6"
    if isinstance(v, bool):
        raise InputError(what)
    try:
        x = float(str(v).strip().replace(",", "."))  # "0,6": a decimal comma
    except ValueError:
        raise InputError(f"{what}, not {show(v)!r}") from None
    if not math.isfinite(x) or not lo <= x <= hi:
        raise InputError(what)
    return x


def bool_arg(args: dict[str, Any], name: str) -> bool:
    v = args.get(name)
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    return str(v).strip().lower() in ("1", "true", "yes", "on", "y")


def list_arg(args: dict[str, Any], name: str, *, commas_only: bool = False) -> list[str]:
    """A list from a list, or from "a, b c" text (commas only when items may hold spaces)."""
    v = args.get(name)
    if v is None:
        return []
    raw: list[str] = []
    items = v if isinstance(v, list | tuple | set) else [v]
    for item in items:
        sep = r"[,;\n]" if commas_only else r"[,;\s]+"
        raw.extend(p.strip() for p in re.split(sep, str(item)))
    out: list[str] = []
    for p in raw:
        if p and p not in out:
            out.append(p)
    if len(out) > MAX_LIST_ITEMS:
        raise InputError(f"`{name}`: at most {MAX_LIST_ITEMS} values")
    for p in out:
        if len(p) > MAX_ITEM_CHARS:
            raise InputError(f"`{name}`: each value at most {MAX_ITEM_CHARS} characters")
    return out


def destination_key(req: Request) -> tuple[str, str, str]:
    """(platform, scope, channel) of THIS channel; the CLI may name any destination."""
    c = req.caller
    if c.platform == "cli":
        platform = str_arg(req.args, "platform", 32) or "console"
        scope = str_arg(req.args, "scope", 64) or ""
        channel = str_arg(req.args, "channel", 64) or ""
        return platform, scope, channel
    if not c.channel:
        raise InputError("this command works in a channel")
    return c.platform, c.scope, c.channel


def require_admin(caller: Caller, what: str) -> None:
    if not caller.is_admin:
        raise PermissionDenied(
            f"only server/workspace admins can {what}"
            " (Discord: Manage Server or Manage Channels; Slack: a workspace admin)"
        )


def who(caller: Caller) -> str:
    """ "platform:scope:user" of the caller, as stored in added_by / created_by."""
    return f"{caller.platform}:{caller.scope}:{caller.user_id}"[:200]
