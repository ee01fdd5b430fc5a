"""What every model shares: the clock."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as naive UTC: SQLite keeps no time zone, so every stored time is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)
