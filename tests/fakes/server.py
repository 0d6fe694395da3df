"""Running an aiohttp app on 127.0.0.1 (a free port), in the current loop or in a thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

HOST = "127.0.0.1"  # fakes never listen anywhere else


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Scripted:
    """A canned answer for the next matching requests (see FakeServer.fail_next)."""

    method: str
    path_prefix: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    content_type: str = "application/json"


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Exactly "application/json": discord.py only parses JSON when there is no charset suffix.
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class FakeServer:
    """Base of the fakes: lifecycle, request log, scripted failures.

    Use it as `async with Fake() as fake:` inside a test's event loop, or
    `fake.start_in_thread()` / `fake.stop_thread()` when the client runs in another process
    or loop (the fake then runs on its own loop in a daemon thread; its lists are only
    appended to, so reading them from the test thread is safe).
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._scripts: list[Scripted] = []
        self._runner: web.AppRunner | None = None
        self.port: int = 0
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    # subclasses add routes
    def build_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> None:
        app = self.build_app()
        app.middlewares.append(self._record_middleware)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # report to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]

    def stop_thread(self) -> None:
        if self._thread_loop is not None and self._thread is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread.join(10)
            self._thread = None

    # -- scripted answers --------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next `times` requests whose path starts with `path_prefix` with this."""
        with self._lock:
            self._scripts.append(
                Scripted(
                    method.upper(),
                    path_prefix,
                    status,
                    body,
                    dict(headers or {}),
                    times,
                    content_type,
                )
            )

    def _take_script(self, method: str, path: str) -> Scripted | None:
        with self._lock:
            for s in self._scripts:
                if s.method == method and path.startswith(s.path_prefix) and s.times > 0:
                    s.times -= 1
                    if s.times == 0:
                        self._scripts.remove(s)
                    return s
        return None

    @web.middleware
    async def _record_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        body = await request.read()
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                parsed,
            )
        )
        script = self._take_script(request.method, request.path)
        if script is not None:
            if script.content_type == "application/json":
                return json_response(script.body, script.status, script.headers)
            return web.Response(
                status=script.status,
                text="" if script.body is None else str(script.body),
                headers={"Content-Type": script.content_type, **script.headers},
            )
        return await handler(request)

    def requests_to(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]
