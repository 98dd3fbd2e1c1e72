"""uvicorn running the cockpit inside the bot's own process and event loop.

The socket is bound here, before uvicorn starts, so a port already in use is one line for
the operator naming the settings (uvicorn would exit the process). Signals stay the bot's:
uvicorn does not install its own handlers (`bot.lifecycle.serve` owns SIGTERM and SIGINT and
stops the server before the application).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from school.settings import SettingsError

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10  # seconds open requests get to finish at shutdown


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the bot."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebServer:
    """Serves an ASGI app on host:port until stopped."""

    def __init__(self, app: ASGIApp, host: str, port: int, *, settings: str = "") -> None:
        self.app = app
        self.host = host
        self.port = port
        self.settings = settings  # the settings naming host and port, for the operator
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and start serving; returns once requests are taken."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise SettingsError(
                f"{self.settings or 'the web server'}: cannot listen on {self.host}:{self.port} "
                f"({exc.strerror}); another program uses the port, or the address is not one "
                "of this machine's"
            ) from None
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]  # port 0 means any free port
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=STOP_TIMEOUT,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="cockpit")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the cockpit server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("cockpit served on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop taking requests and let open ones finish (then close them)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT + 5)
        except TimeoutError:
            self._server.force_exit = True
            await asyncio.gather(self._task, return_exceptions=True)
        self._server = None
        self._task = None
