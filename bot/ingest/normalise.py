"""RawEntry -> Item: plain text, canonical URL, UTC time, stable identity.

Everything here treats feed content as hostile. The text helpers produce plain text that can
never carry markup or a script URL, whatever feedparser's sanitizer did or did not do.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import re
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import idna

from bot.ingest.lang import detect_language, normalise_language_tag
from bot.ingest.types import Item, RawEntry

TITLE_MAX = 300
SUMMARY_MAX = 1000
AUTHOR_MAX = 120
AUTHORS_MAX = 10
LANG_SAMPLE = 400  # summary characters given to language detection
GUID_MAX = 512  # longer guids are hashed so the store can index them
ELLIPSIS = "…"
# HTML beyond this many characters is not read: a summary needs a thousand characters of
# text, and feeds that embed whole articles (or hostile megabytes) should not cost more.
HTML_INPUT_MAX = 100_000

# --------------------------------------------------------------------------- HTML -> text

# Elements whose content is never text for a reader.
_SKIP_CONTENT = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math",
     "head", "title", "select", "textarea", "applet", "frameset", "noembed", "noframes"}
)  # fmt: skip
# Elements that separate words: their boundaries become spaces.
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog",
     "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
     "h4", "h5", "h6", "header", "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section",
     "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "video", "audio",
     "body", "html", "center", "menu", "wbr", "source", "picture", "input", "button", "label"}
)  # fmt: skip
# Void elements never get an end tag, so they must not open a skipped region.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr", "param"}
)  # fmt: skip


class _TextExtractor(HTMLParser):
    """Collects character data outside skipped elements; tags, comments and PIs are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip: list[str] = []  # stack of open skipped elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT and tag not in _VOID:
            self._skip.append(tag)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:  # <br/>, <img/>: a word break, never a skipped region
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skip:
            # close up to the matching element: tolerates misnested markup
            while self._skip:
                if self._skip.pop() == tag:
                    break
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    @property
    def skipping(self) -> bool:
        """Inside an element whose content is dropped (including script/style CDATA)."""
        return bool(self._skip) or self.cdata_elem is not None


_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_TAGLIKE_RE = re.compile(r"<[a-zA-Z/!?]")
_SCRIPT_URL_RE = re.compile(r"(?i)(java|vb)script\s*:")
# Invisible characters that hide text or reorder it: zero-width space/joiner-free marks,
# bidi embeddings/overrides/isolates, BOM, word joiner, soft hyphen, interlinear annotation.
_INVISIBLE_RE = re.compile(
    "[\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
    "\ufff9-\ufffb]"
)
_WS_RE = re.compile(r"\s+")


def _strip_markup(s: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(s[:HTML_INPUT_MAX])
    except AssertionError:
        # _markupbase asserts on some malformed declarations ("<![<!["): keep the text
        # before it; the broken construct and what follows are dropped, like an unclosed one.
        return "".join(parser.parts)
    # Deliberately no close(): it re-scans an unfinished construct at the end once per '<'
    # in it, which is quadratic on hostile input ("<!--" * 50000 takes half a minute).
    # feed() stops at the first unfinished tag, comment or declaration and leaves the rest
    # in rawdata; as in a browser, such a construct runs to the end and shows nothing.
    # What else can be left is plain text held back for a possibly unfinished entity.
    rest = parser.rawdata
    if rest and not parser.skipping and not rest.startswith("<"):
        parser.parts.append(html.unescape(rest))
    elif rest == "<":  # a lone trailing "<" is text, not a construct
        parser.parts.append(rest)
    return "".join(parser.parts)


# C0/C1 controls (whitespace among them is folded before this runs), lone surrogates and
# private-use characters: none of them is text a reader should see.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff]")


def _clean_chars(s: str) -> str:
    """Every kind of whitespace becomes a space; control and invisible characters go."""
    s = _WS_RE.sub(" ", s)
    return _INVISIBLE_RE.sub("", _CONTROL_RE.sub("", s))


def _defang(s: str) -> str:
    """Last line of defence: the output is plain text, so nothing may look like markup."""
    s = _TAGLIKE_RE.sub(lambda m: "< " + m.group(0)[1], s)
    return _SCRIPT_URL_RE.sub(lambda m: m.group(1) + "script :", s)


def _finish(s: str) -> str:
    if not s.isascii():
        # Compatibility forms become plain ones (full-width "ＡＩ" -> "AI", half-width kana,
        # ligatures), so search and matching see one spelling. Before _defang: "＜" -> "<".
        s = unicodedata.normalize("NFKC", s)
    s = _clean_chars(s)
    s = _WS_RE.sub(" ", s).strip()  # removals can leave runs of spaces behind
    return _defang(s)


_CHAR_REFS_RE = re.compile(r"(?:&#(?:[0-9]{1,10}|[xX][0-9a-fA-F]{1,8});)+")
_CHAR_REF_RE = re.compile(r"&#(?:([0-9]+)|[xX]([0-9a-fA-F]+));")


def _surrogate_refs(run: re.Match[str]) -> str:
    """A run of numeric references with surrogates in it: a pair becomes the character it
    encodes (an emoji written as two references), a lone one goes. HTML would make each a
    U+FFFD; the XML layer (xmlsafe) treats references outside CDATA the same way."""
    text = run.group()
    points = [int(m[1]) if m[1] else int(m[2], 16) for m in _CHAR_REF_RE.finditer(text)]
    if not any(0xD800 <= cp <= 0xDFFF for cp in points):
        return text
    out: list[str] = []
    i = 0
    while i < len(points):
        cp = points[i]
        if 0xD800 <= cp <= 0xDBFF and i + 1 < len(points) and 0xDC00 <= points[i + 1] <= 0xDFFF:
            out.append(chr(0x10000 + ((cp - 0xD800) << 10) + (points[i + 1] - 0xDC00)))
            i += 2
            continue
        if not 0xD800 <= cp <= 0xDFFF:
            out.append(f"&#{cp};")
        i += 1
    return "".join(out)


def _join_surrogates(s: str) -> str:
    return _CHAR_REFS_RE.sub(_surrogate_refs, s) if "&#" in s else s


def html_to_text(s: str) -> str:
    """Plain text from an HTML fragment: tags gone, entities decoded, whitespace folded.

    Script/style-like elements lose their content, block elements become spaces. Text that was
    escaped twice (``&amp;amp;`` or ``&lt;b&gt;``) is decoded once more and re-stripped, since
    that is what its author meant. The result never contains a tag or a ``javascript:`` URL.
    """
    if not s:
        return ""
    text = _strip_markup(_join_surrogates(s))
    if _ENTITY_RE.search(text):
        text = html.unescape(text)
        if _TAGLIKE_RE.search(text):
            text = _strip_markup(text)
    return _finish(text)


def plain_text(s: str) -> str:
    """Text that is already plain (text/plain): only leftover entities are decoded."""
    if not s:
        return ""
    return _finish(html.unescape(_join_surrogates(s)))


def truncate(s: str, limit: int) -> str:
    """Cut to at most `limit` characters at a word boundary, ending with an ellipsis."""
    if len(s) <= limit:
        return s
    cut = s[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    # Prefer a word boundary unless it throws away too much (long words, CJK text).
    if space >= limit * 0.6:
        cut = cut[:space]
    cut = cut.rstrip(" ,;:-–—")
    # Never separate a base character from the combining marks that follow it.
    while cut and unicodedata.combining(s[len(cut)]):
        cut = cut[:-1]
    return cut + ELLIPSIS


def text_of(value: str | None, content_type: str | None) -> str:
    """Plain text of a feed text construct: HTML unless its type says text/plain."""
    if not value:
        return ""
    if content_type and content_type.lower().split(";")[0].strip() == "text/plain":
        return plain_text(value)
    return html_to_text(value)


# --------------------------------------------------------------------------- URLs

# Query parameters that only identify a campaign, click or recipient. Matching is
# case-insensitive; prefixes cover families such as utm_source/utm_medium/...
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "li_fat_id", "igshid", "igsh", "mc_cid", "mc_eid", "mkt_tok", "_hsenc",
        "_hsmi", "__hstc", "__hssc", "__hsfp", "hsctatracking", "ref_src", "ref_url", "spm",
        "scm", "_ga", "_gl", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid", "vero_conv",
        "vero_id", "wickedid", "trk", "trkcampaign", "sr_share", "cmpid", "ncid", "ocid",
        "smid", "cmp", "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3",
        "at_custom4", "guccounter", "guce_referrer", "guce_referrer_sig", "xtor", "icid",
        "_branch_match_id", "_branch_referrer", "ss_source", "ss_campaign_id", "share",
    }
)  # fmt: skip
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hmb_", "itm_", "stm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in a path/query; everything else is percent-encoded so the
# canonical form is pure ASCII. '%' is kept so existing escapes are not double-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/%:@!$&'()*+,;=-._~?"


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


def _canonical_host(host: str) -> str | None:
    host = host.strip().rstrip(".").lower()
    if not host:
        return None
    if ":" in host:  # urlsplit hands IPv6 literals over without their brackets
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    if host.isascii():
        # Already ASCII (possibly punycode): validate the characters only.
        return host if re.fullmatch(r"[a-z0-9._-]+", host) else None
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def canonical_url(url: str | None) -> str | None:
    """Canonical http(s) URL, or None for anything else.

    Lower-cases scheme and host, encodes internationalised hosts with IDNA, drops credentials,
    default ports, the fragment and tracking parameters, keeps other parameters in order.
    """
    if not url:
        return None
    url = _clean_chars(url).strip().replace(" ", "%20")
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = _canonical_host(parts.hostname)
    if host is None:
        return None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    kept = []
    for pair in parts.query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        if _is_tracking(name):
            continue
        kept.append(quote(pair, safe=_QUERY_SAFE))
    return urlunsplit((scheme, netloc, path, "&".join(kept), ""))


# --------------------------------------------------------------------------- identity


def _hash_uid(*parts: str) -> str:
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"sha256:{h}"


def entry_uid(
    guid: str | None, url: str | None, title: str, summary: str, published: datetime | None
) -> str:
    """guid, else canonical link, else a hash of title and published time (stable across polls)."""
    if guid is not None:
        g = _clean_chars(guid).strip()
        if g:
            return g if len(g) <= GUID_MAX else _hash_uid("guid", g)
    if url:
        return url
    when = published.astimezone(UTC).isoformat() if published else ""
    # With no title either, the summary is all that tells entries apart.
    return _hash_uid(title, when, "" if title else summary)


# --------------------------------------------------------------------------- the item


def language_sample(title: str, summary: str) -> str:
    """What language detection reads: a few hundred characters settle the language, and
    langid's cost grows with length."""
    return f"{title}. {summary[:LANG_SAMPLE]}".strip(" .")


def item_language(item: Item, usual: str | None = None) -> str | None:
    """The detected language of an Item normalised with `detect=False` (see detect_language
    for `usual`, the language its feed usually has)."""
    return detect_language(language_sample(item.title, item.summary), usual)


def _absolute(base: str, link: str | None) -> str | None:
    # parse_feed already resolves links; this covers RawEntries built elsewhere.
    if not link:
        return None
    try:
        return urljoin(base, link.strip())
    except ValueError:
        return None


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def normalise(
    raw: RawEntry,
    *,
    feed_url: str,
    feed_language: str | None,
    first_seen: datetime,
    detect: bool = True,
) -> Item:
    """Turn a raw feed entry into a plain-text, canonical, identifiable Item.

    With `detect=False` an entry that declares no language (nor its feed) is left with None,
    for the caller to detect once it knows the entry is new (`item_language`).
    """
    title_full = text_of(raw.title, raw.title_type)
    summary_full = text_of(raw.summary, raw.summary_type)
    url = canonical_url(_absolute(feed_url, raw.link))
    title = truncate(title_full, TITLE_MAX)
    summary = truncate(summary_full, SUMMARY_MAX)

    published_known = raw.published is not None
    published = _utc(raw.published) if raw.published is not None else _utc(first_seen)

    uid = entry_uid(raw.guid, url, title_full, summary_full, raw.published)

    language = normalise_language_tag(raw.language) or normalise_language_tag(feed_language)
    if language is None and detect:
        language = detect_language(language_sample(title_full, summary_full))

    authors: list[str] = []
    for a in raw.authors:
        name = truncate(html_to_text(a), AUTHOR_MAX) if a else ""
        if name and name not in authors:
            authors.append(name)
        if len(authors) >= AUTHORS_MAX:
            break

    return Item(
        uid=uid,
        url=url,
        title=title,
        summary=summary,
        published=published,
        published_known=published_known,
        language=language,
        authors=tuple(authors),
    )
