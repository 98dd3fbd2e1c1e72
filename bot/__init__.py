"""Houqin (后勤通): the Telegram bot of a school's logistics department."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after and friends),
# which become the default in its next major version; silences its deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")
