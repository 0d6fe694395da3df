"""Split a feed body into its entry elements, so that a changed feed parses only what is new.

Most polls of a changed feed find one new item among fifty known ones, and feedparser costs
a few hundred microseconds per item. `split_entries` cuts a body into head, the run of
<item>/<entry> elements, and tail, on raw bytes; `parse_feed` then hands feedparser the head,
the entries it has not stored before and the tail, and trusts the answer only when it can
show that a full parse would have given the same entries (see `reduced_is_faithful`).

The split is refused (None) whenever it is doubtful: a DOCTYPE or entity declaration, entry
elements that are not one unbroken run of siblings, nested or self-closing entries, two kinds
of entry element, anything but whitespace between entries, no root element around them. The
scan skips comments, CDATA sections and processing instructions as units, so markup quoted in
them is never taken for an entry; it is only meaningful on a well-formed document in an
encoding where every byte below 0x80 is the ASCII character, which `reduced_is_faithful` checks.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass

from bot.ingest.types import FeedChunks

# The next construct that matters: a comment, CDATA section or PI (skipped whole, so that an
# <item> inside one is never taken for an entry), a declaration that makes a textual split
# unsound, or an entry start/end tag (feedparser lower-cases element names: any case counts).
_NEXT_RE = re.compile(
    rb"<(?:(?P<comment>!--)|(?P<cdata>!\[CDATA\[)|(?P<pi>\?)"
    rb"|(?P<decl>!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST))"
    rb"|(?P<close>/?)(?P<name>(?:[A-Za-z_][\w.\-]*:)?(?i:item|entry))(?=[\s/>]))"
)
_ENDS = {"comment": b"-->", "cdata": b"]]>", "pi": b"?>"}
# The rest of a tag after its name: attributes (quoted values may hold ">") up to ">".
# Possessive: the alternatives never overlap, and a backtracking repeat keeps state for every
# step (a 10 MB tag took a gigabyte).
_TAG_REST_RE = re.compile(rb"(?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+>")
_ELEMENT_START_RE = re.compile(rb"<[A-Za-z_]")
_START_TAG_RE = re.compile(rb"<[A-Za-z_][^>]*>")
# Encodings in which a byte below 0x80 is always that ASCII character, so byte offsets found by
# the scan are character boundaries (UTF-8, ASCII and the single-byte ASCII supersets).
_SINGLE_BYTE_PREFIXES = ("iso8859-", "cp125", "koi8-", "mac-")
_XML_DECLARATION_RE = re.compile(r"^<\?xml[^>]*?>")  # as feedparser's RE_XML_DECLARATION
_NEW_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"
HASH_BYTES = 16  # of each entry's hash, and of the context's


@dataclass(frozen=True, slots=True)
class Split:
    """A body as head + entries + tail; `entries` are (start, end) byte offsets."""

    body: bytes
    entries: tuple[tuple[int, int], ...]

    @property
    def head(self) -> bytes:
        return self.body[: self.entries[0][0]]

    @property
    def tail(self) -> bytes:
        return self.body[self.entries[-1][1] :]

    def chunk(self, i: int) -> bytes:
        start, end = self.entries[i]
        return self.body[start:end]

    def without(self, keep: list[int]) -> bytes:
        """The body with only the entries whose indices are in `keep` (in order)."""
        return b"".join([self.head, *(self.chunk(i) for i in keep), self.tail])


def split_entries(body: bytes, limit: int | None = None) -> Split | None:
    """Cut a body into head, entry elements and tail, or None when that is doubtful (or it
    has more than `limit` entries: 700,000 empty items made lists of a hundred megabytes).

    One pass, linear in the body: each construct is found with a search from where the last
    one ended, and anything unterminated ends the scan (such a body is not well-formed).
    """
    entries: list[tuple[int, int]] = []
    name: bytes | None = None
    start: int | None = None
    pos = 0
    while (m := _NEXT_RE.search(body, pos)) is not None:
        kind = m.lastgroup
        if kind in _ENDS:
            end = body.find(_ENDS[kind], m.end())
            if end < 0:
                return None
            pos = end + len(_ENDS[kind])
            continue
        if m.group("decl") is not None:
            return None  # entities and DTDs can hide or make markup
        rest = _TAG_REST_RE.match(body, m.end())
        if rest is None:
            return None
        pos = rest.end()
        tag = m.group("name")
        if name is None:
            name = tag
        elif tag != name:
            return None  # <item> and <entry>, or two prefixes: not one run
        if m.group("close"):
            if start is None or rest.group().strip() != b">":
                return None
            entries.append((start, pos))
            if limit is not None and len(entries) > limit:
                return None
            start = None
        else:
            if start is not None or rest.group().rstrip().endswith(b"/>"):
                return None  # nested, or an empty <item/>
            if entries and body[entries[-1][1] : m.start()].strip():
                return None  # something between two entries: not a plain run of siblings
            start = m.start()
    if start is not None or not entries:
        return None
    split = Split(body, tuple(entries))
    if not _ELEMENT_START_RE.search(split.head) or b"</" not in split.tail:
        return None  # the entries are not inside a root element (an Atom entry document)
    return split


def _digest(data: bytes) -> int:
    # Stable across processes (the database keeps these), unlike hash(); 128 bits, so no feed
    # can make one of its entries pass for another it has not seen.
    return int.from_bytes(hashlib.blake2b(data, digest_size=HASH_BYTES).digest(), "big")


def context_of(split: Split, base: str, headers: Mapping[str, str]) -> int:
    """A hash of what the entries' meaning depends on outside their own bytes."""
    parts = [
        base.encode("utf-8", "surrogatepass"),
        str(headers.get("content-type")).encode("utf-8", "surrogatepass"),
        str(headers.get("content-language")).encode("utf-8", "surrogatepass"),
        *_START_TAG_RE.findall(split.head),
    ]
    # Each part with its length, so that no two lists of parts make the same bytes.
    return _digest(b"".join(len(p).to_bytes(8, "big") + p for p in parts))


def remember(split: Split, context: int) -> FeedChunks:
    return FeedChunks(context, frozenset(chunk_hashes(split)))


def chunk_hashes(split: Split) -> list[int]:
    return [_digest(split.chunk(i)) for i in range(len(split.entries))]


def pack(chunks: FeedChunks) -> tuple[str, bytes]:
    """FeedChunks as the database keeps them: (context as hex, hashes concatenated)."""
    return (
        format(chunks.context, f"0{HASH_BYTES * 2}x"),
        b"".join(h.to_bytes(HASH_BYTES, "big") for h in sorted(chunks.hashes)),
    )


def unpack(context: str, hashes: bytes) -> FeedChunks | None:
    """The inverse of pack; None for anything it did not write."""
    if len(context) != HASH_BYTES * 2 or len(hashes) % HASH_BYTES:
        return None
    try:
        ctx = int(context, 16)
    except ValueError:
        return None
    n = HASH_BYTES
    return FeedChunks(
        ctx, frozenset(int.from_bytes(hashes[i : i + n], "big") for i in range(0, len(hashes), n))
    )


def ascii_safe(encoding: str | None) -> bool:
    """True for encodings in which the byte-level scan finds character boundaries."""
    if not encoding:
        return False
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return False
    return name in ("utf-8", "ascii", "latin-1") or name.startswith(_SINGLE_BYTE_PREFIXES)


def well_formed(body: bytes, encoding: str) -> bool:
    """Whether the body, decoded as feedparser would decode it, is well-formed namespaced XML.

    feedparser's strict parse succeeds exactly when this does: it too decodes with the
    encoding it settled on, rewrites the XML declaration to UTF-8 and runs expat with
    namespace processing (a DOCTYPE, which it would rewrite, never gets this far).
    """
    if body[:3] == codecs.BOM_UTF8:  # feedparser drops it before decoding
        body = body[3:]
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    if _XML_DECLARATION_RE.search(text):
        text = _XML_DECLARATION_RE.sub(_NEW_DECLARATION, text)
    else:
        text = _NEW_DECLARATION + "\n" + text
    parser = xml.parsers.expat.ParserCreate("utf-8", " ")
    try:
        parser.Parse(text.encode("utf-8"), True)
    except (xml.parsers.expat.ExpatError, ValueError):
        return False
    return True
