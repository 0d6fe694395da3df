"""A tiny HTTP server on 127.0.0.1 for feed-check tests: a feed, a non-feed, redirects."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local AI Policy</title><link>http://example.org/</link>
<item><title>EU AI Act guidance published</title><link>http://example.org/1</link>
<guid>1</guid><pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Second item</title><link>http://example.org/2</link><guid>2</guid></item>
</channel></rss>"""


@dataclass
class Server:
    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def feed_server() -> Iterator[Server]:
    state: list[Server] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state[0].requests.append((self.path, self.headers.get("Host", "")))
            parts = urlsplit(self.path)
            if parts.path == "/feed.xml":
                self._send(200, RSS, "application/rss+xml")
            elif parts.path == "/page.html":
                self._send(200, b"<html><body>Hello, not a feed</body></html>", "text/html")
            elif parts.path == "/redirect":
                to = parse_qs(parts.query)["to"][0]
                self.send_response(302)
                self.send_header("Location", to)
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(404, b"not found", "text/plain")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Server(httpd.server_address[1]))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield state[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
