"""Handlers of the appraisal feature (being built)."""

from __future__ import annotations

from bot.context import HouqinApp


def register(application: HouqinApp) -> None:
    """Add this module's handlers (group 0; see bot.app for the order)."""
