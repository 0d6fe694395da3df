"""Every file of feedparser's own test corpus goes through parse_feed + normalise.

The corpus lives in ../shared/corpora/feedparser. Each file starts with a comment holding
`Header: Name: value` lines (the HTTP response headers feedparser's test server sends) and an
`Expect:` line; we pass the headers on as a real fetch would, and check that whatever comes
out is plain text, and that parse errors are reported exactly where feedparser expects them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest.normalise import normalise
from bot.ingest.parse import parse_feed

pytestmark = pytest.mark.shared

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora" / "feedparser"
BASE_URL = "http://127.0.0.1:8097/"  # the host feedparser's own tests serve the files from
NOW = datetime(2026, 3, 1, tzinfo=UTC)

_HEADER_RE = re.compile(rb"^Header:[ \t]*([^:\r\n]+):[ \t]*(.*?)[ \t]*\r?$", re.MULTILINE)
_EXPECT_RE = re.compile(rb"^Expect:[ \t]*(.*?)\r?$", re.MULTILINE)
_SKIP_RE = re.compile(rb"^SkipUnless:[ \t]*(.*?)\r?$", re.MULTILINE)
_TAG_RE = re.compile(r"<[a-zA-Z/!]")


def _folders() -> list[str]:
    if not CORPUS.is_dir():
        return ["<absent>"]
    return sorted({str(p.parent.relative_to(CORPUS)) for p in CORPUS.rglob("*") if _is_sample(p)})


def _is_sample(p: Path) -> bool:
    return p.is_file() and p.name != "LICENSE"


def _headers(head: bytes) -> dict[str, str]:
    return {
        m.group(1).decode("latin-1").strip(): m.group(2).decode("latin-1")
        for m in _HEADER_RE.finditer(head)
    }


def _assert_plain(text: str, where: str) -> None:
    assert "<script" not in text.lower(), where
    assert not _TAG_RE.search(text), (where, text[:200])
    assert "javascript:" not in text.lower(), where


@pytest.mark.parametrize("folder", _folders())
def test_corpus_folder(folder: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (../shared is only beside the repo in dev and CI)")
    files = sorted(p for p in (CORPUS / folder).iterdir() if _is_sample(p))
    assert files
    mismatches: list[str] = []
    for path in files:
        where = str(path.relative_to(CORPUS))
        body = path.read_bytes()
        head = body[:4096]
        parsed = parse_feed(body, url=BASE_URL + where, headers=_headers(head), now=NOW)
        assert parsed.ok or (parsed.error and not parsed.entries), where
        for text in (parsed.title or "",):
            _assert_plain(text, where)
        assert parsed.link is None or parsed.link.startswith(("http://", "https://")), where
        for raw in parsed.entries:
            item = normalise(raw, feed_url=BASE_URL + where, feed_language=parsed.language,
                             first_seen=NOW)  # fmt: skip
            _assert_plain(item.title, where)
            _assert_plain(item.summary, where)
            for author in item.authors:
                _assert_plain(author, where)
            assert item.uid, where
            assert item.url is None or item.url.startswith(("http://", "https://")), where
            assert item.published.utcoffset() is not None, where
            assert item.language is None or re.fullmatch(r"[a-z]{2}", item.language), where

        # Where the file states whether feedparser must report a problem (and the check does
        # not need an optional library), our error must agree: this is what shows the
        # response headers (charsets, content types) reached feedparser.
        expect = _EXPECT_RE.search(head)
        skip = _SKIP_RE.search(head)
        if expect is None or (skip is not None and b"chardet" in skip.group(1)):
            continue
        claim = expect.group(1).strip()
        if claim.startswith(b"not bozo"):
            if parsed.error is not None:
                mismatches.append(f"{where}: unexpected error {parsed.error}")
        elif claim.startswith(b"bozo") and parsed.error is None:
            mismatches.append(f"{where}: expected a parse error")
    assert not mismatches, "\n".join(mismatches)


def test_corpus_is_complete() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent (../shared is only beside the repo in dev and CI)")
    assert sum(1 for p in CORPUS.rglob("*") if _is_sample(p)) > 2000
