"""How the bot talks HTTP to the Bot API: aiohttp behind python-telegram-bot's `BaseRequest`.

`BaseRequest` is python-telegram-bot's documented extension point for using another networking
library (ptbcontrib ships a similar adapter; it is not on PyPI). The default, httpx, cost about
2 ms of CPU per request under concurrent load on this project's benchmark, against 0.2 ms for
aiohttp: with three requests per button press it was half of the bot's CPU
(`python -m bench.throughput`). aiohttp is a dependency already (the sandbox serves with it).

Timeouts keep python-telegram-bot's meaning and defaults (read, write, connect, pool; a longer
write timeout for uploads). aiohttp has no write timeout of its own, so the sum of the four
bounds the whole request. Proxies from HTTP(S)_PROXY (and NO_PROXY) are honoured, as httpx
does; they are read once per host, not by aiohttp's `trust_env`, which reads them and
~/.netrc in a worker thread on every request (two thread hops a request: a third of a bare
bot's CPU in the benchmark).
"""

from __future__ import annotations

import urllib.parse
import urllib.request

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one aiohttp session with a pool of `connection_pool_size`."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host) → proxy

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (getUpdates adds its long-polling time to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (in the running event loop, as aiohttp requires)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; returns the status code and the body.

        A timeout the caller did not give arrives as `BaseRequest.DEFAULT_NONE` (or another
        default placeholder) and means this request's own default.
        """
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        read = _seconds(read_timeout, self._read_timeout)
        connect = _seconds(connect_timeout, self._connect_timeout)
        pool = _seconds(pool_timeout, self._pool_timeout)
        write = _seconds(
            write_timeout, self._media_write_timeout if uploads else self._write_timeout
        )
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p or 0.0 for p in parts),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            async with self._session.request(
                method,
                url,
                headers={"User-Agent": self.USER_AGENT},
                data=_body(request_data),
                timeout=timeout,
                proxy=self._proxy(url),
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut(
                "Pool or connect timeout: no connection to the Bot API became available; "
                "the request was not sent."
            ) from exc
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _proxy(self, url: str) -> str | None:
        """The proxy the environment names for this URL's host, read once per host."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = bool(key[1]) and urllib.request.proxy_bypass(key[1])
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(key[0])
        return self._proxies[key]


def _seconds(given: object, default: float | None) -> float | None:
    """A timeout as passed by python-telegram-bot: seconds, None (no limit), or a placeholder
    for "not given" (`BaseRequest.DEFAULT_NONE`), which means `default`."""
    if given is None:
        return None
    if isinstance(given, int | float) and not isinstance(given, bool):
        return float(given)
    return default


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields, urlencoded; multipart when files are uploaded."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data if request_data.contains_files else None
    if not files:
        return fields
    # File names go out as UTF-8 in quotes (RFC 7578, as httpx and browsers send them); the
    # default would percent-encode them and Telegram would show "%E5%B7%A5..." to the user.
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
