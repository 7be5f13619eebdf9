"""The ids and timestamps the store writes on its records."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def now_rfc3339() -> str:
    """Current UTC time as RFC 3339 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """A URL-safe random job id."""
    return secrets.token_urlsafe(12)
