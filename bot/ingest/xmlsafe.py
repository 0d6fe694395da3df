"""Make a feed document safe to hand to feedparser: no DTD, no bad characters, bounded work.

Three things here, all linear in the document and safe on hostile bytes:

- `prepare` removes the DOCTYPE (and so every entity declaration) before any parser sees the
  document. feedparser re-inserts "safe" internal entities, expat expands them until its
  amplification limit trips, and then feedparser's loose parser expands them again without
  any limit: one 50 KB entity used 20,000 times took gigabytes. Entities whose value is one
  character are substituted (that cannot amplify); references to any other declared entity
  are dropped, so the parsers never meet a declared entity at all.
- `prepare` also salvages characters: a UTF-16 surrogate pair written as two numeric
  references becomes the one reference it encodes, and references to characters XML forbids
  (lone surrogates, most C0 controls, U+FFFE/U+FFFF, past U+10FFFF) are dropped, as are such
  characters themselves. Expat rejects the whole document for one of them and feedparser's
  loose parser crashes on a lone surrogate, so one bad entry used to cost the whole feed.
  CDATA sections, comments and processing instructions are left alone: a reference in them
  is literal text, not a reference (forbidden raw characters are dropped there too).
- `cost` estimates what parsing a stretch of a document will take, in microseconds of
  feedparser's slowest path, from counts the C library does (tags, references, line breaks,
  bytes). feedparser spends tens of microseconds per tag and a microsecond per reference or
  line, and its memory follows; a 10 MB body of tags takes a minute and half a gigabyte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --------------------------------------------------------------------------- DTD

_BOM = b"\xef\xbb\xbf"
# What may precede a DOCTYPE: white space, processing instructions (the XML declaration) and
# comments. Possessive and ending at \Z when unterminated, so it never backtracks.
_PROLOG_RE = re.compile(
    rb"(?:\s++|<\?(?:[^?]++|\?(?!>))*+(?:\?>|\Z)|<!--(?:[^-]++|-(?!->))*+(?:-->|\Z))*+"
)
_QUOTED = rb"\"[^\"]*+(?:\"|\Z)|'[^']*+(?:'|\Z)"
# A whole DOCTYPE: name and external id, then an internal subset whose quoted literals,
# comments and PIs may hold "]" and ">". Linear: every repetition is possessive.
_DOCTYPE_RE = re.compile(
    rb"<!DOCTYPE(?:[^\[>\"']++|" + _QUOTED + rb")*+"
    rb"(?:\[(?:[^\]\"'<]++|" + _QUOTED + rb"|<!--(?:[^-]++|-(?!->))*+(?:-->|\Z)"
    rb"|<\?(?:[^?]++|\?(?!>))*+(?:\?>|\Z)|<)*+\]\s*+)?>"
)
# A general entity declaration (parameter entities, "% name", only matter inside the DTD).
_ENTITY_DECL_RE = re.compile(
    rb"<!ENTITY\s++(?!%)([^\s\"'>%]++)\s*+(?:\"([^\"]*+)\"|'([^']*+)'|[^>]*+)"
)
_PREDEFINED = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_SINGLE_REF_RE = re.compile(rb"&#(?:([0-9]{1,10})|[xX]([0-9a-fA-F]{1,8}));")
_ESCAPED = {"<": b"&lt;", "&": b"&amp;", ">": b"&gt;", '"': b"&quot;", "'": b"&apos;"}


@dataclass(frozen=True, slots=True)
class Prepared:
    data: bytes
    doctype: bytes = b""  # the DOCTYPE that was removed (feedparser reads RSS 0.91n from it)
    entities: int = 0  # general entities it declared
    refs_dropped: int = 0  # references to characters or entities that are not allowed
    pairs_joined: int = 0  # surrogate pairs written as two references, now one


def _allowed(cp: int) -> bool:
    """XML 1.0's Char production."""
    return (
        cp in (0x9, 0xA, 0xD)
        or 0x20 <= cp <= 0xD7FF
        or 0xE000 <= cp <= 0xFFFD
        or 0x10000 <= cp <= 0x10FFFF
    )


def _entity_value(raw: bytes | None) -> bytes:
    """What a reference to a declared entity becomes: its character when the value is one
    character (escaped if it is markup), else nothing."""
    if raw is None:
        return b""  # external (SYSTEM/PUBLIC): never fetched, never expanded
    m = _SINGLE_REF_RE.fullmatch(raw)
    if m is not None:
        cp = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return b""
        if len(text) != 1 or text == "%":
            return b""
        cp = ord(text)
    if not _allowed(cp):
        return b""
    ch = chr(cp)
    # Never longer than the shortest reference to it ("&a;"), so substituting cannot amplify
    # beyond the escapes for markup characters.
    return _ESCAPED.get(ch) or ch.encode("utf-8")


def _strip_doctype(data: bytes) -> tuple[bytes, bytes, dict[bytes, bytes]]:
    """(data without its DOCTYPE, the DOCTYPE, declared general entity -> replacement)."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    prolog = _PROLOG_RE.match(data, start)
    pos = prolog.end() if prolog else start
    if not data.startswith(b"<!DOCTYPE", pos):
        return data, b"", {}
    m = _DOCTYPE_RE.match(data, pos)
    if m is None:
        # Unterminated: drop the keyword, so no parser takes what follows for a DTD (it is
        # junk before the root element now, which expat rejects and the loose parser skips).
        return data[:pos] + data[pos + len(b"<!DOCTYPE") :], data[pos : pos + 200], {}
    doctype = m.group()
    declared: dict[bytes, bytes] = {}
    for decl in _ENTITY_DECL_RE.finditer(doctype):
        name = decl.group(1)
        if name in _PREDEFINED or name in declared:
            continue  # XML: the first declaration binds
        value = decl.group(2) if decl.group(2) is not None else decl.group(3)
        declared[name] = _entity_value(value)
    return data[:pos] + data[m.end() :], doctype, declared


# --------------------------------------------------------------------------- characters

# Units a reference means nothing in (kept whole), or a run of numeric references (a pair
# must be seen together). An unterminated unit runs to the end, as parsers treat it.
_UNITS = (
    rb"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)"
    rb"|(?P<refs>(?:&#(?:[0-9]++|[xX][0-9a-fA-F]++);)++)"
)
_SCAN_RE = re.compile(_UNITS, re.S)
_SCAN_NAMED_RE = re.compile(_UNITS + rb"|&(?P<name>[^\s&;<>\"'#]++);", re.S)
_REF_RE = re.compile(rb"&#(?:([0-9]++)|[xX]([0-9a-fA-F]++));")
# Forbidden raw characters: C0 controls but tab, newline and carriage return (single bytes in
# UTF-8 and every ASCII-compatible encoding), and U+FFFE/U+FFFF in UTF-8.
_C0 = bytes(b for b in range(0x20) if b not in (0x9, 0xA, 0xD))
_NONCHAR_RE = re.compile(b"\xef\xbf[\xbe\xbf]")
_MAX_DIGITS = 10  # more significant digits than any code point has: out of range


def _code_point(m: re.Match[bytes]) -> int:
    """The code point a numeric reference names; -1 when out of range."""
    digits, base = (m.group(1), 10) if m.group(1) is not None else (m.group(2), 16)
    digits = digits.lstrip(b"0") or b"0"
    if len(digits) > _MAX_DIGITS:  # int() of a megabyte of digits is slow and pointless
        return -1
    cp = int(digits, base)
    return cp if cp <= 0x10FFFF else -1


class _Salvage:
    """The callback for one pass; counts what it changed."""

    def __init__(self, declared: dict[bytes, bytes]) -> None:
        self.declared = declared
        self.dropped = 0
        self.joined = 0

    def __call__(self, m: re.Match[bytes]) -> bytes:
        if m.lastgroup == "refs":
            return self._refs(m.group())
        if m.lastgroup == "name" and m.group("name") in self.declared:
            value = self.declared[m.group("name")]
            self.dropped += not value
            return value
        return m.group()  # a CDATA section, comment or PI, or an entity nobody declared

    def _refs(self, run: bytes) -> bytes:
        found = list(_REF_RE.finditer(run))
        points = [_code_point(r) for r in found]
        if all(_allowed(cp) for cp in points):
            return run  # the common case: nothing to change
        out: list[bytes] = []
        i = 0
        while i < len(found):
            cp = points[i]
            if 0xD800 <= cp <= 0xDBFF and i + 1 < len(found) and 0xDC00 <= points[i + 1] <= 0xDFFF:
                joined = 0x10000 + ((cp - 0xD800) << 10) + (points[i + 1] - 0xDC00)
                out.append(b"&#x%X;" % joined)
                self.joined += 1
                i += 2
                continue
            if _allowed(cp):
                out.append(found[i].group())
            else:
                self.dropped += 1
            i += 1
        return b"".join(out)


def prepare(data: bytes) -> Prepared:
    """The document without DTD, forbidden characters or references to either (see above).

    Meant for UTF-8 (feedparser's own converted document); on other ASCII-compatible
    encodings it is just as safe, since every byte it looks at or removes is ASCII.
    """
    # Characters first: a control character before the DOCTYPE must not hide it from the
    # prolog scan and then vanish, leaving a DTD for expat.
    data = data.translate(None, _C0)
    if b"\xef\xbf" in data:
        data = _NONCHAR_RE.sub(b"", data)
    data, doctype, declared = _strip_doctype(data)
    salvage = _Salvage(declared)
    if declared:
        data = _SCAN_NAMED_RE.sub(salvage, data)
    elif b"&#" in data:
        data = _SCAN_RE.sub(salvage, data)
    return Prepared(data, doctype, len(declared), salvage.dropped, salvage.joined)


# --------------------------------------------------------------------------- work estimate

# Microseconds of feedparser's slower (loose) path per construct, measured on hostile
# documents of each kind; bytes of plain text cost almost nothing by comparison.
TAG_COST = 25.0  # each "<" outside CDATA (start, end and empty tags, declarations) or CDATA
REF_COST = 2.5  # each "&" outside CDATA (entity and character references)
LINE_COST = 2.0  # each line break (expat reports text line by line)
BYTE_COST = 0.05
# Attributes are looked up by a linear scan per attribute in the SAX layer feedparser uses:
# quadratic per element (40,000 on one element took 19 s). A start tag with this many is
# not a feed's; its whole stretch is refused (its entry, or the feed).
MAX_ATTRIBUTES = 64
ATTRIBUTE_COST = 5.0  # each "=" outside CDATA: an attribute (or a few bytes of text)

# Each attribute atomic, so that a failed match gives up at once (a quoted value could also
# be read as an unquoted one: without it, the alternatives would multiply).
_ATTRS = rb"(?>\s++[^\s=/>]++\s*+=\s*+(?:\"[^\"<]*+\"|'[^'<]*+'|[^\s>]*+))"
_MANY_ATTRIBUTES_RE = re.compile(rb"<[^\s/>!?<][^\s/><]*+(?:" + _ATTRS + rb"){%d}" % MAX_ATTRIBUTES)
_CDATA_OPEN = b"<![CDATA["
_CDATA_CLOSE = b"]]>"
UNBOUNDED = float("inf")


@dataclass(frozen=True, slots=True)
class Cost:
    tags: int = 0
    refs: int = 0
    lines: int = 0
    attributes: int = 0
    size: int = 0
    crowded_tag: bool = False  # a start tag with MAX_ATTRIBUTES or more

    @property
    def units(self) -> float:
        if self.crowded_tag:
            return UNBOUNDED
        return (
            self.tags * TAG_COST
            + self.refs * REF_COST
            + self.lines * LINE_COST
            + self.attributes * ATTRIBUTE_COST
            + self.size * BYTE_COST
        )

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.tags + other.tags,
            self.refs + other.refs,
            self.lines + other.lines,
            self.attributes + other.attributes,
            self.size + other.size,
            self.crowded_tag or other.crowded_tag,
        )

    def describe(self) -> str:
        if self.crowded_tag:
            return f"a tag with {MAX_ATTRIBUTES} or more attributes"
        return (
            f"{self.tags:,} tags, {self.refs:,} references, {self.attributes:,} attributes"
            f" and {self.lines:,} lines in {self.size:,} bytes"
        )


def cost(data: bytes, start: int = 0, end: int | None = None, limit: float = UNBOUNDED) -> Cost:
    """The estimated parse cost of data[start:end]. CDATA content is plain text to the
    parsers, so only its bytes and lines count. Stops counting once `limit` is passed (the
    result is then only known to be over it), which bounds the loop over CDATA sections."""
    end = len(data) if end is None else end
    tags = refs = attributes = 0
    pos = start
    lines = data.count(b"\n", start, end) + data.count(b"\r", start, end)
    size = end - start
    while pos < end:
        opened = data.find(_CDATA_OPEN, pos, end)
        stop = end if opened < 0 else opened
        tags += data.count(b"<", pos, stop)
        refs += data.count(b"&", pos, stop)
        attributes += data.count(b"=", pos, stop)
        if opened < 0:
            break
        tags += 1
        closed = data.find(_CDATA_CLOSE, opened + len(_CDATA_OPEN), end)
        pos = end if closed < 0 else closed + len(_CDATA_CLOSE)
        if Cost(tags, refs, lines, attributes, size).units > limit:
            break
    crowded = _MANY_ATTRIBUTES_RE.search(data, start, end) is not None
    return Cost(tags, refs, lines, attributes, size, crowded)
