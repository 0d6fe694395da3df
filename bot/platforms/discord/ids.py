"""Custom ids of the bot's Discord buttons: they carry all the state a click needs, so a
button works after a restart (as Slack's button values do) without any view kept in memory.

- `pb:nr:<story id>`: "Not relevant" under an alert;
- `pb:pg:<owner>:<command>:<args>`: a paging button; the owner is the user id in base 36,
  the args (with the target page) compact JSON with short keys. Discord allows 100
  characters: state that does not fit gets no id (the caller falls back to an in-memory
  view, which lives 14 minutes);
- `pb:do:<command>:<args>`: a reply's action (Reply.actions, e.g. "Exclude source ..." after
  "Not relevant"): a button-only command and its args as compact JSON; anyone may click it,
  the command checks their rights. An action whose state does not fit is not shown.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_CUSTOM_ID = 100
NOT_RELEVANT = re.compile(r"pb:nr:(?P<story>[0-9]{1,19})")
PAGE = re.compile(r"pb:pg:(?P<owner>[0-9a-z]{1,16}):(?P<command>[a-z_]{1,20}):(?P<state>\{.*\})")
ACTION = re.compile(r"pb:do:(?P<command>[a-z_-]{1,20}):(?P<state>\{.*\})")
DISABLED_PREFIX = "pb:off:"

# Long argument names -> one letter, to leave room for the words of the query.
_SHORT = {
    "query": "q",
    "jurisdiction": "j",
    "topic": "t",
    "since": "s",
    "source": "o",
    "lang": "l",
    "share": "h",
    "page": "p",
}
_LONG = {v: k for k, v in _SHORT.items()}


def not_relevant_id(story_id: int) -> str:
    return f"pb:nr:{int(story_id)}"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def page_id(owner: int, command: str, args: dict[str, Any]) -> str | None:
    """The custom id of a button that shows the page in `args`, or None when it does not fit
    in Discord's 100 characters (or the args are not plain JSON values)."""
    packed = {
        _SHORT.get(k, k): v
        for k, v in args.items()
        if v is not None and v is not False and v != "" and v != []
    }
    try:
        state = json.dumps(packed, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return None
    out = f"pb:pg:{_base36(int(owner))}:{command}:{state}"
    return out if len(out) <= MAX_CUSTOM_ID else None


def parse_page_id(custom_id: str) -> tuple[int, str, dict[str, Any]] | None:
    """(owner, command, args) of a paging button's id; None when it is not one."""
    m = PAGE.fullmatch(custom_id)
    if m is None:
        return None
    try:
        packed = json.loads(m["state"])
    except ValueError:
        return None
    if not isinstance(packed, dict):
        return None
    args = {_LONG.get(str(k), str(k)): v for k, v in packed.items()}
    return int(m["owner"], 36), str(m["command"]), args


def action_id(command: str, args: dict[str, Any]) -> str | None:
    """The custom id of a button that runs `command` with `args`, or None when it does not
    fit in 100 characters (or the args are not plain JSON values)."""
    try:
        state = json.dumps(args, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return None
    out = f"pb:do:{command}:{state}"
    return out if len(out) <= MAX_CUSTOM_ID and ACTION.fullmatch(out) else None


def parse_action_id(custom_id: str) -> tuple[str, dict[str, Any]] | None:
    """(command, args) of an action button's id; None when it is not one."""
    m = ACTION.fullmatch(custom_id)
    if m is None:
        return None
    try:
        args = json.loads(m["state"])
    except ValueError:
        return None
    return (str(m["command"]), args) if isinstance(args, dict) else None
