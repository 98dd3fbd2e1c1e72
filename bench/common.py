"""Shared set-up of the benchmarks: a temporary database, the sandbox, the real bot."""

from __future__ import annotations

import os
import resource
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from notices.services import Services, build_services
from school.clock import ManualClock
from school.settings import load_settings

BENCH_START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def machine_line() -> str:
    """Cores and Python, printed with every figure."""
    import platform

    return f"machine: {os.cpu_count()} cores, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB. Read from /proc where it can be: Linux
    carries getrusage's ru_maxrss over exec from the process that forked this one (a bot
    started by the throughput benchmark would report the benchmark's own, which grows)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@asynccontextmanager
async def bench_services(
    database_url: str | None = None, *, sqlite_scheme: str = "sqlite"
) -> AsyncIterator[Services]:
    """Services on a fresh temporary SQLite database (or the given URL), migrated."""
    with tempfile.TemporaryDirectory(prefix="houqin-bench-") as tmp:
        url = database_url or f"{sqlite_scheme}:///{Path(tmp) / 'bench.db'}"
        settings = load_settings(_env_file=None, database_url=url, log_level="WARNING")
        services = build_services(settings, clock=ManualClock(BENCH_START))
        await services.database.migrate()
        try:
            yield services
        finally:
            await services.database.dispose()
