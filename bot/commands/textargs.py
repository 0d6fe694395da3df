"""A small, forgiving parser for commands typed as one line of text (Slack's `/policy ...`).

    search eu ai act --jurisdiction EU --since 7d
    subscribe jurisdictions=CN,EU topics=legislation mode=daily at=09:00 tz=Europe/Berlin
    feeds add https://example.org/ai.xml name="Example AI"

Options take `--name value`, `--name=value`, `name=value` or `name:value`; bare words fill the
command's positional options. Quotes group words; smart quotes count as quotes; a lone quote or
an apostrophe is just a character. Slack's escaping (`&amp;`, `<https://x|label>`) is undone.
Mistakes raise TextArgsError with a message that says what to write instead.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from bot import errors
from bot.commands.spec import COMMANDS, CommandSpec, Option

_QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'"}
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
# Slack wraps links, channels and users: <https://x|label>, <#C1|general>, <@U1|bob>.
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|[^>]*)?>")
_KEYED = re.compile(r"^([A-Za-z][A-Za-z_-]{0,30})([=:])(.*)$", re.DOTALL)


class TextArgsError(errors.InputError):
    """A typing mistake, with what to do about it."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = (), command: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = suggestions
        self.command = command


@dataclass(frozen=True, slots=True)
class Parsed:
    command: str
    args: dict[str, Any] = field(default_factory=dict)


def unslack(text: str) -> str:
    """Slack's escaped text back to what the person typed."""
    text = _SLACK_LINK.sub(lambda m: m.group(1), text)
    return html.unescape(text) if "&" in text else text


def tokenize(text: str) -> list[str]:
    """Split on whitespace outside quotes. A quote opens only if it is closed later and does not
    sit inside a word (so "children's" stays one word); quotes themselves are dropped."""
    for smart, plain in _QUOTES.items():
        text = text.replace(smart, plain)
    tokens: list[str] = []
    cur: list[str] = []
    started = False  # a token is under way (possibly empty: "")
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            if started:
                tokens.append("".join(cur))
                cur, started = [], False
            i += 1
            continue
        if ch in "\"'":
            closing = text.find(ch, i + 1)
            in_word = ch == "'" and cur and cur[-1].isalnum()
            if closing != -1 and not in_word:
                cur.append(text[i + 1 : closing])
                started = True
                i = closing + 1
                continue
        cur.append(ch)
        started = True
        i += 1
    if started:
        tokens.append("".join(cur))
    return tokens


def _suggest(word: str, candidates: list[str]) -> tuple[str, ...]:
    hits = process.extract(word, candidates, scorer=fuzz.WRatio, limit=3, score_cutoff=60)
    return tuple(dict.fromkeys(h[0] for h in hits))


def find_command(word: str) -> CommandSpec:
    w = word.strip().lower().lstrip("/")
    for spec in COMMANDS.values():
        if w == spec.name or w in spec.aliases:
            return spec
    sugg = _suggest(w, list(COMMANDS))
    hint = f" Did you mean {' or '.join(sugg)}?" if sugg else ""
    raise TextArgsError(
        f"Unknown command `{word}`.{hint} Commands: {', '.join(COMMANDS)}."
        " To search, write `search` first, e.g. `search eu ai act`.",
        sugg,
    )


def _convert(spec: CommandSpec, opt: Option, raw: str, args: dict[str, Any]) -> None:
    value = raw.strip()
    if opt.kind == "list":
        items = [v.strip() for v in value.split(",") if v.strip()]
        args.setdefault(opt.name, [])
        for item in items:
            if item not in args[opt.name]:
                args[opt.name].append(item)
        return
    if value == "":
        raise TextArgsError(
            f"`{opt.name}` needs a value, e.g. `{opt.name}=...` ({opt.description}).",
            command=spec.name,
        )
    if opt.kind == "int":
        try:
            args[opt.name] = int(value)
        except ValueError:
            raise TextArgsError(
                f"`{opt.name}` takes a whole number, not `{value}`.", command=spec.name
            ) from None
    elif opt.kind == "float":
        try:
            args[opt.name] = float(value.replace(",", "."))  # "0,6": a decimal comma
        except ValueError:
            raise TextArgsError(
                f"`{opt.name}` takes a number such as 0.6, not `{value}`.", command=spec.name
            ) from None
    elif opt.kind == "bool":
        low = value.lower()
        if low not in _TRUE | _FALSE:
            raise TextArgsError(f"`{opt.name}` is yes or no, not `{value}`.", command=spec.name)
        args[opt.name] = low in _TRUE
    elif opt.kind == "choice":
        low = value.lower()
        matches = [c for c in opt.choices if c == low] or [
            c for c in opt.choices if c.startswith(low)
        ]
        if len(matches) != 1:
            raise TextArgsError(
                f"`{opt.name}` is one of {', '.join(opt.choices)}; `{value}` is not.",
                _suggest(low, list(opt.choices)),
                command=spec.name,
            )
        args[opt.name] = matches[0]
    elif opt.kind == "rest":
        if any(c.isspace() for c in value):  # a quoted phrase: keep it one search term
            value = '"' + value.replace('"', " ") + '"'
        args[opt.name] = f"{args[opt.name]} {value}".strip() if opt.name in args else value
    elif opt.kind == "text":
        args[opt.name] = f"{args[opt.name]} {value}" if opt.name in args else value
    else:
        args[opt.name] = value


def _unknown_option(spec: CommandSpec, key: str) -> TextArgsError:
    names = [o.name for o in spec.options]
    sugg = _suggest(key.lower(), names)
    hint = f" Did you mean {' or '.join(sugg)}?" if sugg else ""
    takes = ", ".join(names) or "no options"
    return TextArgsError(
        f"`{spec.name}` has no option `{key}`.{hint} It takes: {takes}.", sugg, command=spec.name
    )


def parse(text: str) -> Parsed:
    """`text` as typed after `/policy` -> the command and its args (Request.args)."""
    tokens = tokenize(unslack(text or ""))
    if not tokens:
        return Parsed("help")
    spec = find_command(tokens[0])
    args: dict[str, Any] = {}
    positionals = list(spec.positionals)
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok in ("-h", "--help"):
            return Parsed("help", {"command": spec.name})
        if tok.startswith("--") and len(tok) > 2:
            key, eq, value = tok[2:].partition("=")
            opt = spec.option(key)
            if opt is None:
                raise _unknown_option(spec, key)
            if not eq:
                if opt.kind == "bool" and (
                    i >= len(tokens) or tokens[i].lower() not in _TRUE | _FALSE
                ):
                    args[opt.name] = True
                    continue
                if i >= len(tokens):
                    raise TextArgsError(
                        f"`--{key}` needs a value ({opt.description}).", command=spec.name
                    )
                value = tokens[i]
                i += 1
            _convert(spec, opt, value, args)
            continue
        keyed = _KEYED.match(tok)
        if keyed and not tok.lower().startswith(("http:", "https:")):
            key, sep, value = keyed.groups()
            opt = spec.option(key)
            if opt is not None:
                _convert(spec, opt, value, args)
                continue
            if sep == "=":
                raise _unknown_option(spec, key)
            # "word:thing" with an unknown key is just a word (e.g. a query term).
        while (
            positionals
            and positionals[0].name in args
            and positionals[0].kind not in ("rest", "text")
        ):
            positionals.pop(0)
        if not positionals:
            raise TextArgsError(
                f"`{spec.name}` does not take `{tok}` here. Usage: `/policy {spec.usage}`.",
                command=spec.name,
            )
        _convert(spec, positionals[0], tok, args)
    return Parsed(spec.name, args)
