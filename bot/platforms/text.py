"""Text helpers shared by the renderers (and later by command replies): escaping, safe links,
clean truncation, labels for jurisdictions and topics.

Everything that comes from a feed is hostile. The helpers here turn it into text that shows
the same characters on the platform but cannot ping anyone, mask a link or break the layout.

Lengths are counted in UTF-16 code units (`platform_len`). That is never less than what Discord
or Slack count (code points), so text that fits here fits there, and an astral character
(emoji, rare CJK) is never split into half a surrogate pair.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from bot.clock import as_utc

ZWSP = "\u200b"  # zero-width space: invisible, but breaks mention and link syntax
ELLIPSIS = "…"

# -- cleaning ---------------------------------------------------------------------------------

# C0/C1 controls (terminal escapes too), bidi embeddings/overrides/isolates (they can make a
# name or a link read backwards), lone surrogates (not encodable), BOM and interlinear marks.
_JUNK = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb"
    "\ud800-\udfff]"
)
_WS = re.compile(r"\s+")


def platform_len(text: str) -> int:
    """Length as the platforms' limits count it, conservatively (UTF-16 code units)."""
    if text.isascii():
        return len(text)  # one unit per character
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str | None) -> str:
    """Drop control, bidi-override and lone-surrogate characters; keep line breaks."""
    if not text:
        return ""
    if text.isprintable():
        # No control, format (bidi, BOM), surrogate or separator character but the ASCII
        # space: nothing to drop or fold (the common case, and renderers call this often).
        return text
    return _JUNK.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


def inline(text: str | None) -> str:
    """Feed text as one clean line: our own layout decides where lines break."""
    if text and text.isprintable() and "  " not in text:
        return text.strip()  # its only whitespace is single ASCII spaces (see clean)
    return _WS.sub(" ", clean(text)).strip()


# -- Discord ----------------------------------------------------------------------------------

# Inline markdown in Discord: bold, italics, underline, strike, code, spoiler, masked-link
# brackets. A backslash shows them literally. Parentheses need no escape: without an
# unescaped "]" they can never finish a masked link.
_DISCORD_MD = re.compile(r"([\\*_~`|\[\]])")
# Headings (#), subtext (-#), quotes (>), lists (-, +, *, 1.) only exist at the start of a line.
_LINE_START = re.compile(r"(?m)^([ \t]*)(#|-|>|\+|\d+\.)")

# discord.gg/code becomes an invite embed even without a scheme.
_INVITE = re.compile(r"(?i)\b(discord(?:app)?)\.(gg|com|io|me|li|new)\b")


def _break_schemes(text: str) -> str:
    # Discord autolinks http(s)://, Slack any scheme://; a ZWSP before every "://" stops both
    # (whatever precedes it: "__https://" has no word boundary before the scheme).
    return text.replace("://", ZWSP + "://")


def _break_mentions(text: str) -> str:
    # "@" + ZWSP breaks @everyone, @here and <@id>; "<" + ZWSP breaks <@id>, <@&id>, <#id>,
    # </cmd:id>, <t:...>, <a:emoji:id> and <https://...> all at once.
    return text.replace("@", "@" + ZWSP).replace("<", "<" + ZWSP)


def discord_escape(text: str) -> str:
    """Plain text -> Discord markdown that shows the same characters, pings no one, masks no
    link, autolinks no URL, opens no code block and starts no heading, quote or list. Line
    breaks are kept."""
    t = _break_schemes(clean(text))
    t = _INVITE.sub(lambda m: m.group(1) + ZWSP + "." + m.group(2), t)
    t = _DISCORD_MD.sub(r"\\\1", t)
    t = _LINE_START.sub(lambda m: m.group(1) + _escape_line_start(m.group(2)), t)
    return _break_mentions(t)


def _escape_line_start(marker: str) -> str:
    return marker[:-1] + "\\." if marker.endswith(".") else "\\" + marker


def discord_plain(text: str) -> str:
    """For Discord places without markdown (embed footers, author names): no mention syntax,
    no link syntax, same characters otherwise."""
    return _break_mentions(_break_schemes(clean(text)))


# -- Slack ------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Plain text -> Slack mrkdwn: only &, < and > are escaped (Slack decodes nothing else).
    Escaping "<" is what stops <!channel>, <@U123> and <http://evil|click> from feed text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack turns bare URLs, www.* and domain names into links: a ZWSP after the dot stops it.
_DOMAIN_DOT = re.compile(r"(?i)(?<=[a-z0-9])\.(?=[a-z][a-z0-9-]{1,62}\b)")
_MASS = re.compile(r"(?i)@(?=(?:everyone|here|channel)\b)")


def slack_text(text: str) -> str:
    """Feed text -> Slack mrkdwn for our renderers: cleaned, slack_escape()d, with no bare URL
    or domain Slack would turn into a link, and no @channel look-alike (Slack only pings with
    <!channel>, which escaping already stops; this holds even if link_names were ever on)."""
    t = _DOMAIN_DOT.sub("." + ZWSP, _break_schemes(clean(text)))
    return _MASS.sub("@" + ZWSP, slack_escape(t))


def slack_plain(text: str) -> str:
    """For Slack plain_text objects: Slack shows them literally (and escapes them itself), so
    no entities; a ZWSP after "<" (and in @channel) keeps even a misparsing client from
    seeing a mention."""
    return _MASS.sub("@" + ZWSP, clean(text).replace("<", "<" + ZWSP))


# -- links ------------------------------------------------------------------------------------

MAX_URL = 2000
# Characters that would end or break <url|text> (Slack) or [text](url) (Discord), or that no
# valid URL contains: quotes, backslash, backtick, angle brackets, pipe, braces, spaces.
_URL_BREAKERS = frozenset("<>|\"'`\\{}^ ")
_ASCII_BAD = re.compile(r'[^\x21-\x7e]|[<>|"\'`\\{}^]')
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}\.?$")
# Percent-encoded here, not refused: common in real URLs, harmless once encoded.
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "()%") + "%"


# The common URL that safe_link() returns unchanged: a lowercase http(s) scheme and host
# (labels as _HOST takes them, no port, user or trailing dot), then a path of printable
# ASCII with nothing to refuse or encode; no query or fragment (an empty one would be
# dropped). Anything else takes the full path below.
_PLAIN_URL = re.compile(
    rf"https?://(?:{_LABEL}\.)*{_LABEL}(?:/[^\x00-\x20\x7f-\U0010ffff<>|\"'`\\{{}}^()?#]*)?"
)


@lru_cache(maxsize=4096)  # digests look up the same source URLs again and again
def safe_link(url: str | None) -> str | None:
    """An http(s) URL that is safe to link, or None. Refused: other schemes (javascript:, data:,
    file:), credentials in the host, whitespace or control characters anywhere, characters
    that break link syntax. Parentheses and non-ASCII are percent-encoded, the host IDNA-encoded.
    The result is a fixed point: safe_link(safe_link(u)) == safe_link(u)."""
    if not url or not isinstance(url, str):
        return None
    u = url.strip()
    if not u or len(u) > MAX_URL:
        return None
    if _PLAIN_URL.fullmatch(u):
        return u
    if u.isascii():
        if _ASCII_BAD.search(u):
            return None
    elif any(
        ch in _URL_BREAKERS or ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in u
    ):
        return None  # C*: controls, format (ZWSP, bidi), surrogates; Z*: separators
    try:
        parts = urlsplit(u)
        port = parts.port  # raises on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not u.lower().startswith(
        parts.scheme.lower() + "://"
    ):
        return None
    if "@" in parts.netloc or not parts.hostname:
        return None  # user:pass@host disguises where the link goes
    host = parts.hostname
    if ":" in host:  # an IPv6 literal (urlsplit drops its brackets)
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
        if not _HOST.match(host):
            return None
    netloc = host + (f":{port}" if port is not None else "")
    rest = [quote(p, safe=_URL_SAFE) for p in (parts.path, parts.query, parts.fragment)]
    out = urlunsplit((parts.scheme.lower(), netloc, rest[0], rest[1], rest[2]))
    return out if len(out) <= MAX_URL else None


# -- truncation -------------------------------------------------------------------------------

_ENTITY_TAIL = re.compile(r"&#?[A-Za-z0-9]{0,10}$")


def _is_joiner(ch: str) -> bool:
    """Characters that belong to the preceding character (a cut must not go before them)."""
    cp = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch in ("\u200d", "\ufe0e", "\ufe0f", ZWSP)  # ZWJ, variation selectors, our ZWSP
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # emoji tag sequences
    )


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def truncate(text: str, limit: int) -> str:
    """`text` within `limit` (platform_len), cut cleanly with an ellipsis when too long: at a
    word boundary when one is near, never inside an entity (&amp;), a surrogate pair, a
    backslash escape, a flag or an emoji sequence. Works on escaped text."""
    if platform_len(text) <= limit:
        return text
    if limit < 1:
        return ""
    budget = limit - platform_len(ELLIPSIS)
    cut, used = 0, 0
    for ch in text:
        n = 2 if ord(ch) > 0xFFFF else 1
        if used + n > budget:
            break
        used += n
        cut += 1
    # Keep whole grapheme-ish units: a base with its marks, ZWJ sequences, flag pairs.
    while 0 < cut < len(text) and (_is_joiner(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    if 0 < cut < len(text) and _is_regional(text[cut]) and _is_regional(text[cut - 1]):
        run = 0
        while run < cut and _is_regional(text[cut - 1 - run]):
            run += 1
        if run % 2:
            cut -= 1
    # A word boundary if it costs at most a quarter of the room (long words, CJK: cut anyway).
    space = text.rfind(" ", 0, cut + 1)
    if space > 0 and space >= cut * 0.75:
        cut = space
    head = text[:cut]
    m = _ENTITY_TAIL.search(head)
    if m and re.match(r"&#?[A-Za-z0-9]{1,10};", text[m.start() :]):
        head = head[: m.start()]  # the cut fell inside "&amp;" or "&#123;"
    head = head.rstrip()
    trailing = len(head) - len(head.rstrip("\\"))
    if trailing % 2:
        head = head[:-1]  # a lone backslash would escape our ellipsis
    return head + ELLIPSIS


# -- labels -----------------------------------------------------------------------------------


def flag(code: str) -> str:
    """The flag emoji of an ISO 3166-1 alpha-2 code (regional indicator letters), or ""."""
    c = "GB" if code.upper() == "UK" else code.upper()
    if not re.fullmatch(r"[A-Z]{2}", c):
        return ""
    return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in c)


class _JurisdictionLabels(dict[str, str]):
    """code -> "🇨🇳 CN"; EU and INTL are fixed, any other two-letter code gets its flag."""

    def __missing__(self, key: str) -> str:
        f = flag(key)
        if not f:
            raise KeyError(key)
        return f"{f} {key.upper()}"


JURISDICTION_LABELS: dict[str, str] = _JurisdictionLabels(
    {"EU": "🇪🇺 EU", "INTL": "🌐 INTL", "UN": "🌐 UN"}
)
NO_JURISDICTION = "🌍 Unspecified"
_CODE = re.compile(r"[A-Za-z0-9_-]{1,16}")


def jurisdiction_label(code: str) -> str:
    """Display label of a jurisdiction code; unknown values come back as cleaned, short text
    (still to be escaped by the platform renderer)."""
    c = inline(code)
    if not c:
        return NO_JURISDICTION
    try:
        return JURISDICTION_LABELS[c.upper()] if _CODE.fullmatch(c) else _short(c)
    except KeyError:
        return c.upper() if _CODE.fullmatch(c) else _short(c)


TOPIC_LABELS: dict[str, str] = {
    "legislation": "Legislation",
    "regulation": "Regulation",
    "executive-action": "Executive action",
    "international-cooperation": "International cooperation",
    "standards-safety": "Standards & safety",
    "enforcement-litigation": "Enforcement & litigation",
    "export-controls": "Export controls",
    "public-investment": "Public investment",
    "other-policy": "Other policy",
}
TOPIC_COLOURS: dict[str, int] = {
    "legislation": 0x2B6CB0,  # blue
    "regulation": 0x2C7A7B,  # teal
    "executive-action": 0x6B46C1,  # purple
    "international-cooperation": 0x38A169,  # green
    "standards-safety": 0xD69E2E,  # amber
    "enforcement-litigation": 0xC53030,  # red
    "export-controls": 0xDD6B20,  # orange
    "public-investment": 0x319795,  # cyan
    "other-policy": 0x718096,  # grey
}
DEFAULT_COLOUR = 0x4A5568
NO_TOPIC = "Other"


def topic_label(topic: str) -> str:
    t = inline(topic)
    if t in TOPIC_LABELS:
        return TOPIC_LABELS[t]
    return _short(t.replace("-", " ").capitalize()) if t else NO_TOPIC


def topic_colour(topics: tuple[str, ...]) -> int:
    return TOPIC_COLOURS.get(topics[0], DEFAULT_COLOUR) if topics else DEFAULT_COLOUR


def _short(text: str, limit: int = 40) -> str:
    return truncate(text, limit)


# -- dates ------------------------------------------------------------------------------------


def day(dt: datetime) -> str:
    d = as_utc(dt)
    return f"{d.day} {d:%b %Y}"


def period(start: datetime, end: datetime) -> str:
    a, b = day(start), day(end)
    return a if a == b else f"{a} – {b}"


def check_len(
    problems: list[str], where: str, value: Any, limit: int, *, required: bool = False
) -> None:
    """Adds to `problems` when `value` at `where` is not a string of at most `limit`
    UTF-16 units (or is empty when `required`); the validators' one length rule."""
    if value is None and not required:
        return
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {type(value).__name__}")
        return
    n = platform_len(value)
    if n > limit:
        problems.append(f"{where}: {n} characters, limit {limit}")
    if required and not value.strip():
        problems.append(f"{where}: must not be empty")
