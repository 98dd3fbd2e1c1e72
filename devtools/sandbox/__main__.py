"""Run the Bot API sandbox standalone: ``python -m devtools.sandbox [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from devtools.sandbox.server import parse_latency, serve_forever


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description="Local Telegram Bot API sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:SANDBOX")
    parser.add_argument(
        "--latency",
        type=parse_latency,
        default=0.0,
        help="seconds every Bot API call waits before its answer: 0.25, or a range 0.3-0.5",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.host, args.port, args.token, args.latency))


if __name__ == "__main__":
    main()
