"""Run the Bot API sandbox standalone: ``python -m devtools.sandbox [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from devtools.sandbox.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(description="Local Telegram Bot API sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:SANDBOX")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
