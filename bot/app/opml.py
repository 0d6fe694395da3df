"""OPML 2.0 in and out, and adding feeds to feeds.yaml without losing its comments.

`import_opml` reads another reader's export, `export_opml` writes the feed list for other
readers, and `add_feeds_to_config_file` appends new entries to an existing feeds.yaml as text,
so every comment and every other line stays as the person wrote it.

Folders (categories) are kept as far as feeds.yaml can hold them: FeedConfig has no tags, so a
feed's folder path becomes a comment above its entry, and a folder named after a jurisdiction
("EU", "China", "Deutschland") becomes a jurisdiction hint of every feed inside it. An outline
that is no feed (no xmlUrl) is skipped with a warning naming it; the rest is imported.

OPML is parsed with defusedxml: a file that declares entities (the "billion laughs" bomb) or
points at external resources is refused before anything is expanded.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
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
from bot.core.vocab import resolve_jurisdiction
from bot.ingest.normalise import canonical_url

log = logging.getLogger("policybot.opml")

# Our own outline attributes (jurisdiction hints, interval, enabled) travel in a namespace so
# other readers ignore them and a round trip through OPML keeps them.
POLICYBOT_NS = "https://github.com/policybot/policybot/opml"
MAX_OPML_BYTES = 10 * 1024 * 1024
NAME_MAX = 120  # FeedConfig.name's limit
_MAX_LISTED_PROBLEMS = 20
# A folder path is recorded (as a comment) up to this many levels, each name up to this long;
# a hostile file may nest thousands of folders.
_MAX_FOLDER_DEPTH = 8
_MAX_FOLDER_NAME = 80
_MAX_FOLDER_PATHS = 5  # the same feed filed in several folders

# Two- and three-letter folder names are usually topics or abbreviations ("AI" is Anguilla's
# code, "IT" Italy's, "IN" India's, "CA" Canada's); they count as a jurisdiction only when
# they are one of these, which a feed reader's folder names in the obvious sense.
_SHORT_JURISDICTION_FOLDERS = frozenset(
    {
        "eu", "uk", "us", "usa", "un", "prc", "uae", "intl", "g7", "g20",
        "cn", "jp", "kr", "gb", "de", "fr", "nl", "au", "br", "sg", "tw", "ru", "nz", "ua",
    }
)  # fmt: skip
# Folder names in the jurisdiction's own language (the resolver knows English names, codes
# and aliases): people file feeds under "Deutschland" or "中国".
_LOCAL_JURISDICTION_NAMES = {
    "deutschland": "DE",
    "osterreich": "AT",
    "schweiz": "CH",
    "suisse": "CH",
    "svizzera": "CH",
    "italia": "IT",
    "espana": "ES",
    "brasil": "BR",
    "nederland": "NL",
    "polska": "PL",
    "sverige": "SE",
    "norge": "NO",
    "danmark": "DK",
    "suomi": "FI",
    "royaume-uni": "GB",
    "grossbritannien": "GB",
    "regno unito": "GB",
    "etats-unis": "US",
    "stati uniti": "US",
    "estados unidos": "US",
    "chine": "CN",
    "cina": "CN",
    "japon": "JP",
    "giappone": "JP",
    "europa": "EU",
    "europaische union": "EU",
    "union europeenne": "EU",
    "unione europea": "EU",
    "union europea": "EU",
    "international": "INTL",
    "internacional": "INTL",
    "internazionale": "INTL",
    "中国": "CN",
    "中國": "CN",
    "日本": "JP",
    "韩国": "KR",
    "韓国": "KR",
    "한국": "KR",
    "대한민국": "KR",
    "欧盟": "EU",
    "欧州": "EU",
    "美国": "US",
    "米国": "US",
    "英国": "GB",
}

# Characters XML 1.0 cannot carry at all; ElementTree would write them and produce a broken file.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_WS = re.compile(r"\s+")
# The line breaks PyYAML counts (its marks index characters of the text).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class OpmlError(errors.InputError):
    """An OPML file that cannot be imported, worded for a person (the caller adds the path)."""


@dataclass(frozen=True)
class SkippedOutline:
    """An outline that is no feed and no folder, left out of the import."""

    label: str  # its title (or text), as the person sees it in their reader
    reason: str  # "no-url", "link" or "include"
    detail: str  # what is wrong, for a person

    def __str__(self) -> str:
        return f"outline {self.label!r}: {self.detail}"


_SKIP_SUMMARY = {
    "no-url": "without a feed URL (xmlUrl)",
    "link": "linking to a web page, not a feed",
    "include": "including another OPML file",
}


def skipped_summary(skipped: Sequence[SkippedOutline]) -> str:
    """One line: how many outlines were skipped, by reason ("" when none were)."""
    if not skipped:
        return ""
    counts = Counter(s.reason for s in skipped)
    why = ", ".join(f"{n} {_SKIP_SUMMARY.get(reason, reason)}" for reason, n in counts.items())
    return f"skipped {len(skipped)} outline(s) that are not feeds: {why}"


@dataclass
class OpmlImport:
    feeds: list[FeedConfig] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # outlines that could not be used
    skipped: list[SkippedOutline] = field(default_factory=list)  # not feeds (no xmlUrl)
    # Feed name -> the folder paths it was filed under ("Policy / EU"), outermost first.
    folders: dict[str, list[str]] = field(default_factory=dict)


class ImportedFeeds(list[FeedConfig]):
    """The feeds of an OPML file, with what the import learned beside them.

    A plain list of FeedConfig to every caller; `folders` and `skipped` ride along so that
    `add_feeds_to_config_file` can write each feed's folder path as a comment and a caller can
    say what was left out (`summary()`).
    """

    def __init__(
        self,
        feeds: Iterable[FeedConfig] = (),
        folders: Mapping[str, list[str]] | None = None,
        skipped: Sequence[SkippedOutline] = (),
    ) -> None:
        super().__init__(feeds)
        self.folders: dict[str, list[str]] = dict(folders or {})
        self.skipped: list[SkippedOutline] = list(skipped)

    def comments(self) -> dict[str, str]:
        """Feed name -> the comment that records its OPML folders."""
        return {name: folder_comment(paths) for name, paths in self.folders.items() if paths}

    def summary(self) -> str:
        return skipped_summary(self.skipped)


def folder_comment(paths: Sequence[str]) -> str:
    word = "folder" if len(paths) == 1 else "folders"
    return f"OPML {word}: {'; '.join(paths)}"


# ----------------------------------------------------------------------------- import


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _clean(s: str | None) -> str:
    return _WS.sub(" ", s or "").strip()


def _attrs(el: ET.Element) -> dict[str, str]:
    """Plain attributes by lower-cased name (exporters disagree on xmlUrl's case)."""
    return {k.lower(): v for k, v in el.attrib.items() if not k.startswith("{")}


def _fold(s: str) -> str:
    """Case, accents and full-width forms folded ("Österreich" -> "osterreich"), as the
    resolver folds; NFC again at the end so Hangul syllables stay whole."""
    s = "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", _WS.sub(" ", s).strip().casefold())


_LOCAL_NAMES = {_fold(k): v for k, v in _LOCAL_JURISDICTION_NAMES.items()}


@lru_cache(maxsize=4096)
def folder_jurisdiction(name: str) -> str | None:
    """The jurisdiction a folder name names ("EU", "China", "Deutschland"), or None.

    Only a whole name counts (after emoji and punctuation around it): "EU" and "🇪🇺 EU:" do,
    "EU policy" does not. Short names count only when they plainly mean a jurisdiction, so a
    folder "AI" or "IT" stays a topic.
    """
    core = _fold(name)
    # Strip what is not a letter or digit at either end: emoji, flags, colons, brackets.
    start, end = 0, len(core)
    while start < end and not core[start].isalnum():
        start += 1
    while end > start and not core[end - 1].isalnum():
        end -= 1
    core = core[start:end]
    if not core or len(core) > _MAX_FOLDER_NAME:
        return None
    if core in _LOCAL_NAMES:
        return _LOCAL_NAMES[core]
    if len(core) <= 3 and core not in _SHORT_JURISDICTION_FOLDERS:
        return None
    # The resolver's exact answer only: its suggestions are guesses ("Asia" -> Austria).
    return resolve_jurisdiction(core).value


@dataclass(frozen=True)
class _Place:
    """Where an outline sits: its folder path (capped) and the jurisdictions folders name."""

    path: tuple[str, ...] = ()
    depth: int = 0
    codes: tuple[str, ...] = ()

    def inside(self, folder: str) -> _Place:
        name = _fit_label(folder) or "(untitled)"
        path = (*self.path, name) if len(self.path) < _MAX_FOLDER_DEPTH else self.path
        code = folder_jurisdiction(folder) if folder else None
        codes = (*self.codes, code) if code and code not in self.codes else self.codes
        return _Place(path, self.depth + 1, codes)

    def label(self) -> str:
        more = " / …" if self.depth > len(self.path) else ""
        return " / ".join(self.path) + more


def _fit_label(s: str) -> str:
    s = "".join(ch if ch.isprintable() else " " for ch in _clean(s))
    s = _WS.sub(" ", s).strip()
    return s if len(s) <= _MAX_FOLDER_NAME else s[: _MAX_FOLDER_NAME - 1].rstrip() + "…"


def _outlines(body: ET.Element) -> Iterator[tuple[ET.Element, _Place, bool]]:
    """Every outline, where it sits, and whether outlines are nested inside it."""
    # Iterative walk: a hostile file may nest outlines deeper than Python's recursion limit.
    stack: list[tuple[Iterator[ET.Element], _Place]] = [(iter(list(body)), _Place())]
    while stack:
        children, place = stack[-1]
        el = next(children, None)
        if el is None:
            stack.pop()
            continue
        if _local(el.tag) == "outline":
            inner = [c for c in el if _local(c.tag) == "outline"]
            yield el, place, bool(inner)
            if inner:
                attrs = _attrs(el)
                if attrs.get("xmlurl", "").strip():  # a feed with outlines inside: no folder
                    stack.append((iter(inner), place))
                else:
                    folder = _clean(attrs.get("title")) or _clean(attrs.get("text"))
                    stack.append((iter(inner), place.inside(folder)))


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
    found: dict[str, _Found] = {}  # by URL key, in document order
    for el, place, has_inner in _outlines(body):
        attrs = _attrs(el)
        raw_url = attrs.get("xmlurl", "").strip()
        label = _clean(attrs.get("title")) or _clean(attrs.get("text"))
        if not raw_url:
            if not has_inner:  # a folder holds outlines; this one is no feed and no folder
                result.skipped.append(_skipped(label, attrs))
            continue
        url = _feed_url(raw_url)
        key = _url_key(url)
        where = place.label()
        if key in found:  # the same feed filed under two folders: one feed, both folders
            found[key].add(where, place.codes)
            continue
        fields: dict[str, Any] = {"url": url}
        language = attrs.get("language", "").strip()
        if re.fullmatch(r"[a-zA-Z]{2}(?:[-_][a-zA-Z]{2,4})?", language):
            fields["language"] = language  # anything else is not a hint we can use
        ours = {k.rsplit("}", 1)[-1]: v for k, v in el.attrib.items() if k.startswith("{")}
        jurisdictions = [c.strip() for c in ours.get("jurisdictions", "").split(",") if c.strip()]
        if ours.get("interval", "").strip():
            fields["interval"] = ours["interval"].strip()
        if ours.get("enabled", "").strip().lower() == "false":
            fields["enabled"] = False
        found[key] = _Found(label, raw_url, fields, jurisdictions)
        found[key].add(where, place.codes)

    names: set[str] = set()
    for f in found.values():
        fields = dict(f.fields)
        given = {c.upper() for c in f.jurisdictions}
        codes = [*f.jurisdictions, *(c for c in f.folder_codes if c not in given)]
        if codes:
            fields["jurisdictions"] = codes
        try:
            feed = FeedConfig.model_validate(
                {**fields, "name": _unique(f.label or _fallback_name(f.fields["url"]), set(names))}
            )
        except ValidationError as err:
            result.problems.append(
                f"outline {f.label or '(untitled)'!r} ({f.raw_url}): {_validation_message(err)}"
            )
            continue
        names.add(feed.name.casefold())
        result.feeds.append(feed)
        if f.folders:
            result.folders[feed.name] = list(f.folders)
    return result


@dataclass
class _Found:
    """A feed outline (or several with the same URL) before it is validated."""

    label: str
    raw_url: str
    fields: dict[str, Any]
    jurisdictions: list[str]  # the outline's own hints (our namespace attribute)
    folders: list[str] = field(default_factory=list)
    folder_codes: list[str] = field(default_factory=list)

    def add(self, where: str, codes: tuple[str, ...]) -> None:
        if where and where not in self.folders and len(self.folders) < _MAX_FOLDER_PATHS:
            self.folders.append(where)
        self.folder_codes.extend(c for c in codes if c not in self.folder_codes)


def _skipped(label: str, attrs: dict[str, str]) -> SkippedOutline:
    shown = label or "(untitled)"
    kind = attrs.get("type", "").strip().lower()
    if kind == "link":
        return SkippedOutline(shown, "link", 'a link to a web page (type="link"), not a feed')
    if kind == "include":
        return SkippedOutline(
            shown,
            "include",
            'an include of another OPML file (type="include"): import that file on its own',
        )
    if kind in ("rss", "atom"):
        return SkippedOutline(shown, "no-url", "no xmlUrl (feed URL)")
    return SkippedOutline(shown, "no-url", "no xmlUrl (feed URL) and no feeds inside it")


def _listed(problems: list[str]) -> str:
    shown = problems[:_MAX_LISTED_PROBLEMS]
    more = len(problems) - len(shown)
    return "\n".join(f"  - {p}" for p in shown) + (f"\n  ... and {more} more" if more else "")


def import_opml(path: Path) -> ImportedFeeds:
    """The feeds of an OPML file, names made unique, folders kept as comments and hints.

    An outline that is no feed (no xmlUrl: an empty folder, a web link, a feed entry missing
    its URL) is skipped with a warning naming it, and a last warning says how many were
    skipped and why; the other feeds are imported. An outline that is a feed but cannot be
    used as one (bad URL, bad hint) makes the whole import fail with a list of what to fix,
    so the person can correct the file and run it again. OSError is left to the caller.
    """
    size = path.stat().st_size
    if size > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES // (1024 * 1024)} MB")
    result = parse_opml(path.read_bytes())
    for skipped in result.skipped[:_MAX_LISTED_PROBLEMS]:
        log.warning("%s: skipped %s", path, skipped)
    if result.skipped:
        log.warning("%s: %s", path, skipped_summary(result.skipped))
    if result.problems:
        raise OpmlError(
            f"{len(result.problems)} outline(s) cannot be imported; fix or remove them and run"
            f" the import again (nothing was added):\n{_listed(result.problems)}"
        )
    if not result.feeds:
        also = f"; {skipped_summary(result.skipped)}" if result.skipped else ""
        raise OpmlError(f"contains no feeds (no <outline> with an xmlUrl attribute){also}")
    return ImportedFeeds(result.feeds, result.folders, result.skipped)


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


def _comment_line(text: str) -> str:
    """Text safe on one comment line: no line breaks (YAML counts NEL, LS and PS too)."""
    return _WS.sub(" ", "".join(ch if ch.isprintable() else " " for ch in text)).strip()


def _block(
    entries: Iterable[dict[str, Any]],
    indent: int,
    nl: str,
    note: str | None,
    comments: Mapping[str, str] | None = None,
) -> str:
    """YAML for list items at `indent` spaces; PyYAML does the quoting of odd names.

    `comments` puts a comment line above the entry of that name (an OPML folder path).
    """
    pad = " " * indent
    lines = [f"{pad}# {note}"] if note else []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        comment = (comments or {}).get(name) if isinstance(name, str) else None
        if comment and _comment_line(comment):
            lines.append(f"{pad}# {_comment_line(comment)}")
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


def _insert_feeds(
    text: str, new: list[dict[str, Any]], note: str, comments: Mapping[str, str] | None = None
) -> str:
    """`text` with `new` appended to its feeds list; everything else is left as it was."""
    nl = "\r\n" if "\r\n" in text else "\n"

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:  # empty, or comments only
        sep = nl if text and not _LINE_BREAK.search(text[-1:]) else ""
        return text + sep + "feeds:" + nl + _block(new, 2, nl, note, comments)

    if isinstance(root, yaml.SequenceNode):  # a bare list of feeds
        if root.flow_style is True:
            start, end = root.start_mark.index, root.end_mark.index
            items = yaml.safe_load(text[start:end]) or []
            return (
                text[:start]
                + _block([*items, *new], 0, nl, note, comments)
                + text[end:].lstrip(" ")
            )
        at, sep = _after_line(text, _content_end(root), nl)
        return text[:at] + sep + _block(new, root.start_mark.column, nl, note, comments) + text[at:]

    if not isinstance(root, yaml.MappingNode) or root.flow_style is True:
        raise ValueError("the top level is not a block mapping")
    pair = next(
        ((k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "feeds"),
        None,
    )
    if pair is None:
        at, sep = _after_line(text, _content_end(root), nl)
        indent = root.start_mark.column
        block = " " * indent + "feeds:" + nl + _block(new, indent + 2, nl, note, comments)
        return text[:at] + sep + block + text[at:]

    key, value = pair
    if isinstance(value, yaml.SequenceNode) and value.flow_style is not True and value.value:
        at, sep = _after_line(text, _content_end(value), nl)
        return (
            text[:at] + sep + _block(new, value.start_mark.column, nl, note, comments) + text[at:]
        )

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
    block = _block([*existing, *new], key.start_mark.column + 2, nl, note, comments)
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


def add_feeds_to_config_file(
    path: Path, feeds: Sequence[FeedConfig], comments: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """Append the feeds not already in the config file; return (added, skipped) names.

    A feed is skipped when its name (case-insensitive) or its URL is already there. The new
    entries are added as YAML text under `feeds:`, so comments and formatting elsewhere are
    untouched; the result is validated before it replaces the file (atomically). A missing
    file is created. Every problem is a ConfigError naming the file; the file is then
    unchanged.

    `comments` (feed name -> one line) puts a comment above a new entry; for the result of
    `import_opml` it defaults to each feed's OPML folder path.
    """
    if comments is None and isinstance(feeds, ImportedFeeds):
        comments = feeds.comments()
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
        updated = _insert_feeds(text, [_entry(f) for f in new], note, comments)
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
