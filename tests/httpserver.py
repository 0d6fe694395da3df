"""A small real HTTP/1.1 server on 127.0.0.1 for tests (random port, background threads).

Usage::

    from tests.httpserver import LocalHTTPServer, Reply, Request

    with LocalHTTPServer() as srv:               # or use the `http_server` fixture below
        srv.route("/feed.xml", Reply(body=b"<rss/>", headers={"Content-Type": "text/xml"}))
        srv.route("/flaky", [Reply(status=503), Reply(body=b"ok")])  # one reply per request;
                                                                     # the last one repeats
        srv.route("/echo", lambda req: Reply(body=req.body), method="POST")  # a handler
        url = srv.url("/feed.xml")
        ...
        assert srv.requests_to("/feed.xml")[0].headers["user-agent"].startswith("policybot")
        assert srv.peak_in_flight("/feed.xml") <= 2

Replies can wait before answering (`delay`), drip the body slowly (`drip`, `drip_size`), omit
Content-Length (`content_length=False`: the body ends when the connection closes) or use chunked
transfer encoding (`chunked=True`). A Content-Length given in `headers` is sent as is (so a test can
make it lie). Unknown paths answer 404. Every request is recorded (method, target, lower-case
headers, body), which makes it usable for webhook tests too (POST bodies are kept).

The `http_server` fixture below is available to a test module that declares
`pytest_plugins = ["tests.httpserver"]` in the root conftest, or write the three-line fixture
yourself (`with LocalHTTPServer() as srv: yield srv`) to keep ruff's F811 quiet.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

__all__ = ["Handler", "LocalHTTPServer", "Reply", "Request", "http_server", "wait_until"]


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    target: str  # path plus query, as sent
    path: str  # without the query
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


@dataclass(frozen=True)
class Reply:
    """What to send back for a request."""

    status: int = 200
    body: bytes | str = b""  # str is sent as UTF-8
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before sending the status line
    drip: float = 0.0  # > 0: send the body drip_size bytes at a time, sleeping this long between
    drip_size: int = 1
    content_length: bool = True  # False: no Content-Length, close the connection to end the body
    chunked: bool = False  # Transfer-Encoding: chunked (one chunk per write / drip)

    def body_bytes(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body

    def header_items(self) -> list[tuple[str, str]]:
        return (
            list(self.headers.items()) if isinstance(self.headers, Mapping) else list(self.headers)
        )


Handler = Callable[[Request], Reply]
_NO_BODY = {204, 304}


class _Route:
    def __init__(self, target: Reply | Sequence[Reply] | Handler) -> None:
        self._lock = threading.Lock()
        self._handler: Handler | None = None
        self._replies: list[Reply] = []
        if isinstance(target, Reply):
            self._replies = [target]
        elif callable(target):
            self._handler = target
        else:
            self._replies = list(target)
            if not self._replies:
                raise ValueError("a route needs at least one Reply")

    def reply_for(self, req: Request) -> Reply:
        if self._handler is not None:
            return self._handler(req)
        with self._lock:  # a sequence is consumed one reply per request; the last one repeats
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]


class LocalHTTPServer:
    """A threaded HTTP/1.1 server on 127.0.0.1, free port. Start it with `with` or start()."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str | None, str], _Route] = {}
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._in_flight_all = 0
        self._peak_all = 0
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalHTTPServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()  # wakes handlers sleeping in delay/drip so they give up promptly
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- addresses -------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # --- routes ----------------------------------------------------------------------------
    def route(
        self,
        path: str,
        reply: Reply | Sequence[Reply] | Handler,
        *,
        method: str | None = None,
    ) -> None:
        """Answer requests to `path` (query ignored) with a Reply, a sequence or a handler.

        `method=None` matches any method; a method-specific route wins over a catch-all one.
        Registering the same path again replaces the route.
        """
        with self._lock:
            self._routes[(method.upper() if method else None, path)] = _Route(reply)

    # --- what happened ---------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def peak_in_flight(self, path: str | None = None) -> int:
        """The most requests (to `path`, or to any path) being handled at the same time."""
        with self._lock:
            return self._peak_all if path is None else self._peak.get(path, 0)

    # --- used by the handler threads -------------------------------------------------------
    def _find(self, method: str, path: str) -> _Route | None:
        with self._lock:
            return self._routes.get((method, path)) or self._routes.get((None, path))

    def _enter(self, req: Request) -> None:
        with self._lock:
            self._requests.append(req)
            n = self._in_flight.get(req.path, 0) + 1
            self._in_flight[req.path] = n
            self._peak[req.path] = max(self._peak.get(req.path, 0), n)
            self._in_flight_all += 1
            self._peak_all = max(self._peak_all, self._in_flight_all)

    def _leave(self, req: Request) -> None:
        with self._lock:
            self._in_flight[req.path] -= 1
            self._in_flight_all -= 1

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is closing; True when it is closing."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a slow drip must not block close()
    allow_reuse_address = True
    owner: LocalHTTPServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up (timeouts, TLS probes, cut-off bodies) are expected in tests.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        path = urlsplit(self.path).path
        req = Request(method=self.command, target=self.path, path=path, headers=headers, body=body)
        owner._enter(req)
        try:
            route = owner._find(self.command, path)
            reply = route.reply_for(req) if route else Reply(status=404, body=b"no route")
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a timeout): expected
        finally:
            owner._leave(req)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        owner = self.server.owner
        if owner._sleep(reply.delay):
            self.close_connection = True
            return
        body = b"" if reply.status in _NO_BODY or self.command == "HEAD" else reply.body_bytes()
        self.send_response_only(reply.status)
        self.send_header("Date", self.date_time_string())
        items = reply.header_items()
        names = {n.lower() for n, _ in items}
        for name, value in items:
            self.send_header(name, value)
        if reply.status not in _NO_BODY:
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif reply.content_length and "content-length" not in names:
                self.send_header("Content-Length", str(len(reply.body_bytes())))
            elif not reply.content_length:
                self.send_header("Connection", "close")
                self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        step = max(1, reply.drip_size) if reply.drip > 0 else max(1, len(body))
        for i in range(0, len(body), step):
            piece = body[i : i + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece)
            self.wfile.flush()
            if reply.drip > 0 and owner._sleep(reply.drip):
                self.close_connection = True
                return
        if reply.chunked and reply.status not in _NO_BODY:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    """A started LocalHTTPServer, closed after the test."""
    with LocalHTTPServer() as srv:
        yield srv


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `predicate` (from a test thread) until it holds or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
