"""OPML 2.0 in and out, and adding feeds to feeds.yaml without losing its comments.

`import_opml` reads another reader's export (categories flattened), `export_opml` writes the
feed list for other readers, and `add_feeds_to_config_file` appends new entries to an existing
feeds.yaml as text, so every comment and every other line stays as the person wrote it.

OPML is parsed with defusedxml: a file that declares entities (the "billion laughs" bomb) or
points at external resources is refused before anything is expanded.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from pydantic import ValidationError

from bot import errors
from bot.app.config import (
    AppConfig,
    ConfigError,
    FeedConfig,
    format_duration,
    load_yaml_text,
    parse_config,
)
from bot.ingest.normalise import canonical_url

# Our own outline attributes (jurisdiction hints, interval, enabled) travel in a namespace so
# other readers ignore them and a round trip through OPML keeps them.
POLICYBOT_NS = "https://github.com/policybot/policybot/opml"
MAX_OPML_BYTES = 10 * 1024 * 1024
NAME_MAX = 120  # FeedConfig.name's limit
_MAX_LISTED_PROBLEMS = 20

# Characters XML 1.0 cannot carry at all; ElementTree would write them and produce a broken file.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WS = re.compile(r"\s+")
# The line breaks PyYAML counts (its marks index characters of the text).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class OpmlError(errors.InputError):
    """An OPML file that cannot be imported, worded for a person (the caller adds the path)."""


@dataclass
class OpmlImport:
    feeds: list[FeedConfig] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # outlines that could not be used


# ----------------------------------------------------------------------------- import


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _clean(s: str | None) -> str:
    return _WS.sub(" ", s or "").strip()


def _attrs(el: ET.Element) -> dict[str, str]:
    """Plain attributes by lower-cased name (exporters disagree on xmlUrl's case)."""
    return {k.lower(): v for k, v in el.attrib.items() if not k.startswith("{")}


def _outlines(body: ET.Element) -> Iterator[ET.Element]:
    # Iterative walk: a hostile file may nest outlines deeper than Python's recursion limit.
    stack = [iter(list(body))]
    while stack:
        el = next(stack[-1], None)
        if el is None:
            stack.pop()
            continue
        if _local(el.tag) == "outline":
            yield el
            stack.append(iter(list(el)))


def _feed_url(raw: str) -> str:
    url = raw.strip()
    # The old feed: pseudo-scheme ("feed://host/path", "feed:https://...") means "subscribe".
    low = url.lower()
    if low.startswith("feed://"):
        return "http://" + url[len("feed://") :]
    if low.startswith(("feed:http://", "feed:https://")):
        return url[len("feed:") :]
    return url


def _fallback_name(url: str) -> str:
    parts = urlsplit(url)
    return _clean(f"{parts.netloc}{parts.path}".rstrip("/")) or url


def _fit(name: str, suffix: str = "") -> str:
    if len(name) + len(suffix) > NAME_MAX:
        name = name[: NAME_MAX - len(suffix) - 1].rstrip() + "…"
    return name + suffix


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = _fit(name), 1
    while candidate.casefold() in taken:
        n += 1
        candidate = _fit(name, f" ({n})")
    taken.add(candidate.casefold())
    return candidate


def _validation_message(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg'].removeprefix('Value error, ')}"
        for e in err.errors()
    )


def _url_key(url: str) -> str:
    # Same feed despite cosmetic differences (host case, tracking parameters, fragment).
    return canonical_url(url) or url.strip()


def parse_opml(data: bytes) -> OpmlImport:
    """The feeds of an OPML document; outlines that cannot be used are listed in `problems`.

    Raises OpmlError when the document is not usable at all (not XML, hostile, not OPML).
    """
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise OpmlError(
            "refused: the file declares XML entities or external references, which OPML never"
            f" needs ({type(exc).__name__}); it may be an entity-expansion attack"
        ) from None
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise OpmlError(f"not valid XML (line {line}, column {col + 1}): {exc}") from None
    if _local(root.tag) != "opml":
        raise OpmlError(f"not an OPML file: the document is <{_local(root.tag)}>, not <opml>")
    body = next((el for el in root if _local(el.tag) == "body"), None)
    if body is None:
        raise OpmlError("not an OPML file: it has no <body>")

    result = OpmlImport()
    names: set[str] = set()
    urls: set[str] = set()
    for el in _outlines(body):
        attrs = _attrs(el)
        raw_url = attrs.get("xmlurl", "").strip()
        label = _clean(attrs.get("title")) or _clean(attrs.get("text"))
        if not raw_url:
            # A folder (category), or a link outline; only outlines with xmlUrl are feeds.
            if attrs.get("type", "").lower() in ("rss", "atom"):
                result.problems.append(f"outline {label or '(untitled)'!r} has no xmlUrl")
            continue
        url = _feed_url(raw_url)
        key = _url_key(url)
        if key in urls:  # the same feed filed under two categories
            continue
        fields: dict[str, Any] = {"url": url}
        language = attrs.get("language", "").strip()
        if re.fullmatch(r"[a-zA-Z]{2}(?:[-_][a-zA-Z]{2,4})?", language):
            fields["language"] = language  # anything else is not a hint we can use
        ours = {k.rsplit("}", 1)[-1]: v for k, v in el.attrib.items() if k.startswith("{")}
        if ours.get("jurisdictions", "").strip():
            fields["jurisdictions"] = ours["jurisdictions"]
        if ours.get("interval", "").strip():
            fields["interval"] = ours["interval"].strip()
        if ours.get("enabled", "").strip().lower() == "false":
            fields["enabled"] = False
        try:
            feed = FeedConfig.model_validate(
                {**fields, "name": _unique(label or _fallback_name(url), set(names))}
            )
        except ValidationError as err:
            result.problems.append(
                f"outline {label or '(untitled)'!r} ({raw_url}): {_validation_message(err)}"
            )
            continue
        names.add(feed.name.casefold())
        urls.add(key)
        result.feeds.append(feed)
    return result


def _listed(problems: list[str]) -> str:
    shown = problems[:_MAX_LISTED_PROBLEMS]
    more = len(problems) - len(shown)
    return "\n".join(f"  - {p}" for p in shown) + (f"\n  ... and {more} more" if more else "")


def import_opml(path: Path) -> list[FeedConfig]:
    """The feeds of an OPML file, nested categories flattened, names made unique.

    Nothing is dropped quietly: an outline that cannot become a feed (bad URL, bad hint)
    makes the whole import fail with a list of what to fix, so the person can correct the
    file and run it again. OSError is left to the caller.
    """
    size = path.stat().st_size
    if size > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    result = parse_opml(path.read_bytes())
    if result.problems:
        raise OpmlError(
            f"{len(result.problems)} outline(s) cannot be imported; fix or remove them and run"
            f" the import again (nothing was added):\n{_listed(result.problems)}"
        )
    if not result.feeds:
        raise OpmlError("contains no feeds (no <outline> with an xmlUrl attribute)")
    return result.feeds


# ----------------------------------------------------------------------------- export


def _xml_text(s: str) -> str:
    return _XML_INVALID.sub("", s)


def export_opml(cfg: AppConfig, title: str = "policybot feeds") -> str:
    """The feed list as an OPML 2.0 document (UTF-8 text)."""
    ET.register_namespace("policybot", POLICYBOT_NS)
    opml = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = _xml_text(title)
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(opml, "body")
    for f in cfg.feeds:
        name = _xml_text(f.name)
        attrs = {"type": "rss", "text": name, "title": name, "xmlUrl": _xml_text(f.url)}
        if f.language:
            attrs["language"] = f.language
        if f.jurisdictions:
            attrs[f"{{{POLICYBOT_NS}}}jurisdictions"] = ",".join(f.jurisdictions)
        if f.interval is not None:
            attrs[f"{{{POLICYBOT_NS}}}interval"] = format_duration(f.interval)
        if not f.enabled:
            attrs[f"{{{POLICYBOT_NS}}}enabled"] = "false"
        ET.SubElement(body, "outline", attrs)
    ET.indent(opml, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"


# ----------------------------------------------------------------------------- feeds.yaml


def _entry(f: FeedConfig) -> dict[str, Any]:
    d: dict[str, Any] = {"name": f.name, "url": f.url}
    if f.language:
        d["language"] = f.language
    if f.jurisdictions:
        d["jurisdictions"] = list(f.jurisdictions)
    if f.interval is not None:
        d["interval"] = format_duration(f.interval)
    if not f.enabled:
        d["enabled"] = False
    return d


class _EntryDumper(yaml.SafeDumper):
    """Block mappings, but short lists on one line (`jurisdictions: [EU, CN]`)."""


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_EntryDumper.add_representer(list, _flow_list)


def _block(entries: Iterable[dict[str, Any]], indent: int, nl: str, note: str | None) -> str:
    """YAML for list items at `indent` spaces; PyYAML does the quoting of odd names."""
    pad = " " * indent
    lines = [f"{pad}# {note}"] if note else []
    for entry in entries:
        dumped = yaml.dump(
            entry,
            Dumper=_EntryDumper,
            allow_unicode=True,
            sort_keys=False,
            default_flow_style=False,
            width=1_000_000,  # never fold a long URL
        )
        for i, line in enumerate(dumped.splitlines()):
            lines.append(pad + ("- " if i == 0 else "  ") + line)
    return nl.join(lines) + nl


def _content_end(node: yaml.Node) -> int:
    """Index just past the last character of a node's own content.

    Block collections end where the next token starts, after any trailing comments; their
    last scalar (or flow collection) ends exactly.
    """
    while (
        isinstance(node, yaml.MappingNode | yaml.SequenceNode)
        and node.flow_style is not True
        and node.value
    ):
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return int(node.end_mark.index)


def _after_line(text: str, pos: int, nl: str) -> tuple[int, str]:
    """Where the line holding `pos` ends (after its break), and a break to add if missing."""
    line_start = max((m.end() for m in _LINE_BREAK.finditer(text, 0, pos)), default=0)
    if not text[line_start:pos].strip():
        return line_start, ""  # pos sits in the indentation of a line: insert before it
    m = _LINE_BREAK.search(text, pos)
    if m:
        return m.end(), ""
    return len(text), nl


def _null_text(text: str, node: yaml.ScalarNode) -> bool:
    return node.tag == "tag:yaml.org,2002:null" or text[
        node.start_mark.index : node.end_mark.index
    ].strip() in ("", "~", "null", "Null", "NULL")


def _insert_feeds(text: str, new: list[dict[str, Any]], note: str) -> str:
    """`text` with `new` appended to its feeds list; everything else is left as it was."""
    nl = "\r\n" if "\r\n" in text else "\n"
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:  # empty, or comments only
        sep = nl if text and not _LINE_BREAK.search(text[-1:]) else ""
        return text + sep + "feeds:" + nl + _block(new, 2, nl, note)

    if isinstance(root, yaml.SequenceNode):  # a bare list of feeds
        if root.flow_style is True:
            start, end = root.start_mark.index, root.end_mark.index
            items = yaml.safe_load(text[start:end]) or []
            return text[:start] + _block([*items, *new], 0, nl, note) + text[end:].lstrip(" ")
        at, sep = _after_line(text, _content_end(root), nl)
        return text[:at] + sep + _block(new, root.start_mark.column, nl, note) + text[at:]

    if not isinstance(root, yaml.MappingNode) or root.flow_style is True:
        raise ValueError("the top level is not a block mapping")
    pair = next(
        ((k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "feeds"),
        None,
    )
    if pair is None:
        at, sep = _after_line(text, _content_end(root), nl)
        indent = root.start_mark.column
        block = " " * indent + "feeds:" + nl + _block(new, indent + 2, nl, note)
        return text[:at] + sep + block + text[at:]

    key, value = pair
    if isinstance(value, yaml.SequenceNode) and value.flow_style is not True and value.value:
        at, sep = _after_line(text, _content_end(value), nl)
        return text[:at] + sep + _block(new, value.start_mark.column, nl, note) + text[at:]

    existing: list[Any] = []
    if isinstance(value, yaml.SequenceNode):  # `feeds: []` or `feeds: [{...}]`
        existing = yaml.safe_load(text[value.start_mark.index : value.end_mark.index]) or []
    elif not (isinstance(value, yaml.ScalarNode) and _null_text(text, value)):
        raise ValueError("`feeds` is not a list")
    # Empty the value in place (a comment after it stays on the key's line), then put the
    # list on the lines below the key.
    start, end = value.start_mark.index, value.end_mark.index
    if value.start_mark.line == key.start_mark.line:
        text = text[:start].rstrip(" ") + text[end:]
    at, sep = _after_line(text, int(key.end_mark.index), nl)
    block = _block([*existing, *new], key.start_mark.column + 2, nl, note)
    return text[:at] + sep + block + text[at:]


def _write_atomically(path: Path, text: str) -> None:
    target = Path(os.path.realpath(path))  # keep a symlinked feeds.yaml a symlink
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_feeds_to_config_file(path: Path, feeds: list[FeedConfig]) -> tuple[list[str], list[str]]:
    """Append the feeds not already in the config file; return (added, skipped) names.

    A feed is skipped when its name (case-insensitive) or its URL is already there. The new
    entries are added as YAML text under `feeds:`, so comments and formatting elsewhere are
    untouched; the result is validated before it replaces the file (atomically). A missing
    file is created. Every problem is a ConfigError naming the file; the file is then
    unchanged.
    """
    if path.exists():
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                text = fh.read()  # newline="" keeps CRLF files CRLF
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read it: {exc}") from None
    else:
        text = ""
    data = load_yaml_text(text, path)
    before = parse_config(data, path) if data is not None else None
    existing = before.feeds if before is not None else []

    names = {f.name.casefold() for f in existing}
    urls = {_url_key(f.url) for f in existing}
    new: list[FeedConfig] = []
    skipped: list[str] = []
    for f in feeds:
        if f.name.casefold() in names or _url_key(f.url) in urls:
            skipped.append(f.name)
            continue
        names.add(f.name.casefold())
        urls.add(_url_key(f.url))
        new.append(f)
    if not new:
        return [], skipped

    note = f"added by `policybot feeds import` on {datetime.now(UTC):%Y-%m-%d}"
    unchanged = f"{path}: could not add the feeds automatically; the file is unchanged"
    try:
        updated = _insert_feeds(text, [_entry(f) for f in new], note)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{unchanged} ({exc}). Add them under `feeds:` by hand.") from None
    try:
        after = parse_config(load_yaml_text(updated, path), path)
    except ConfigError as exc:
        raise ConfigError(f"{unchanged}; the edit would not validate:\n{exc}") from None
    expected = [f.name for f in existing] + [f.name for f in new]
    same_rest = before is None or before.model_dump(exclude={"feeds"}) == after.model_dump(
        exclude={"feeds"}
    )
    if [f.name for f in after.feeds] != expected or not same_rest:
        raise ConfigError(f"{unchanged}: the edit changed more than the feed list.")
    try:
        _write_atomically(path, updated)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write it: {exc}") from None
    return [f.name for f in new], skipped
