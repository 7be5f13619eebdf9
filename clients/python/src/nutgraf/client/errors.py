"""What a call of the API can raise: its error answers, and the waits that ran out."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from nutgraf.client.bodies import Job


class NutgrafError(Exception):
    """An error answer of the API (or no answer at all): HTTP status, code and message."""

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class NutgrafTimeout(NutgrafError):
    """A job or batch did not finish within the time the caller allowed."""

    def __init__(self, message: str, *, job: Job | None = None) -> None:
        super().__init__(None, "timeout", message)
        self.job = job


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def error_from(response: httpx.Response) -> NutgrafError:
    """The NutgrafError of an error answer, from the API's error body when it has one."""
    code, message = f"http_{response.status_code}", response.reason_phrase
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        # Not the API's error body (a proxy's page, say): keep a readable start of it.
        text = response.text.strip()
        if text:
            message = text[:300]
    return NutgrafError(
        response.status_code,
        code,
        message,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
