"""A Python client of the nutgraf HTTP API: one summary, or many through batches.

```python
from nutgraf.client import Client

with Client("http://127.0.0.1:8000", api_key="...") as nutgraf:
    job = nutgraf.summarize(article, length="short")
    print(job.summary)
    for item in nutgraf.batch({"id": id, "text": text} for id, text in archive):
        print(item.id, item.status, item.summary)
```

HTTP errors raise `NutgrafError`; a job that ran and failed comes back with status
`failed` and its `error`. 429 and 503 answers and connection errors are retried,
honoring `Retry-After`, within bounded attempts and time. Every POST carries an
`Idempotency-Key` (generated unless given) that its retries reuse, so a retry after a
timeout never submits the same work twice.
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TERMINAL",
    "BatchCounts",
    "BatchItemResult",
    "BatchStatus",
    "Checks",
    "Client",
    "Job",
    "JobError",
    "NutgrafError",
    "NutgrafTimeout",
    "Sentence",
]

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
BATCH_TERMINAL = frozenset({"succeeded", "partially_succeeded", "failed"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Options a summary request (and each batch item) may carry besides `text`.
OPTION_FIELDS = ("model", "length", "format", "mode", "max_words", "strict", "truncate")
ITEM_FIELDS = frozenset({"id", "text", "title", *OPTION_FIELDS})
MAX_PREFER_WAIT_S = 30  # the server clamps `Prefer: wait` to this
MAX_RESULTS_PAGE = 1000


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


class _Body(BaseModel):
    # Fields the server adds later must not break older clients.
    model_config = ConfigDict(extra="allow")


class JobError(_Body):
    """Why a job failed: a machine-readable code and a message."""

    code: str
    message: str = ""


class Sentence(_Body):
    """A sentence of the article (extractive mode): text == article[start:end]."""

    text: str
    start: int
    end: int


class Checks(_Body):
    """The faithfulness report of a summary."""

    unsupported: list[str] = Field(default_factory=list)
    regenerated: bool = False


class Job(_Body):
    """A summary job as GET /v1/summaries/<id> returns it."""

    id: str
    status: str
    summary: str | None = None
    bullets: list[str] | None = None
    sentences: list[Sentence] | None = None
    checks: Checks | None = None
    model: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    cached: bool = False
    created_at: str | None = None
    completed_at: str | None = None
    input: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: JobError | None = None
    callback: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        """True once the job ended: succeeded, failed or cancelled."""
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        """True when the job succeeded."""
        return self.status == "succeeded"


class BatchItemResult(Job):
    """One item of a batch: the job body, with the caller's `id` and the job's `job_id`."""

    job_id: str | None = None


class BatchCounts(_Body):
    """How many items of a batch are in each state."""

    total: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        """Items that ended, whatever the outcome."""
        return self.succeeded + self.failed + self.cancelled


class BatchStatus(_Body):
    """A batch as GET /v1/batches/<id> returns it."""

    id: str
    status: str
    created_at: str | None = None
    completed_at: str | None = None
    counts: BatchCounts = Field(default_factory=BatchCounts)
    progress: float = 0.0
    callback: dict[str, Any] | None = None
    results_url: str | None = None

    @property
    def done(self) -> bool:
        """True once every item ended."""
        return self.status in BATCH_TERMINAL


class BatchResultsPage(_Body):
    """One page of GET /v1/batches/<id>/results."""

    batch: str
    items: list[BatchItemResult]
    next_cursor: int | None = None


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


def _error_from(response: httpx.Response) -> NutgrafError:
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


def _options(values: Mapping[str, Any]) -> dict[str, Any]:
    # None means "the server's default": such fields are left out of the body.
    return {name: value for name, value in values.items() if value is not None}


@dataclass
class _OpenBatch:
    """A batch this client sent and still reads results of."""

    id: str
    ids: set[str]
    yielded: set[str] = field(default_factory=set)


class Client:
    """A client of one nutgraf deployment; use as a context manager or call close()."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: int = 5,
        retry_for_s: float = 120.0,
        poll_interval_s: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`api_key` defaults to NUTGRAF_API_KEY; `timeout_s` bounds one HTTP request;
        `retries` and `retry_for_s` bound the retries of one call; `poll_interval_s` is
        the longest pause between two polls of a job or batch."""
        self.url = url.rstrip("/")
        if api_key is None:
            api_key = os.environ.get("NUTGRAF_API_KEY") or None
        headers = {"Accept": "application/json", "User-Agent": "nutgraf-client"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_for_s = retry_for_s
        self.poll_interval_s = poll_interval_s
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- HTTP with retries -------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """One API call, retried on 429/502/503/504 and connection errors; raises
        NutgrafError on any other error status or when the retries run out."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            error: NutgrafError
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=timeout_s if timeout_s is not None else self.timeout_s,
                )
            except httpx.UnsupportedProtocol as exc:
                raise NutgrafError(None, "invalid_url", f"{self.url}: {exc}") from None
            except httpx.TransportError as exc:
                # Sent or not, a POST is safe to repeat: it carries its Idempotency-Key.
                error = NutgrafError(None, "connection_error", f"{type(exc).__name__}: {exc}")
                wait = None
            else:
                if response.status_code < 400:
                    return response
                error = _error_from(response)
                retryable = response.status_code in RETRY_STATUSES or (
                    # The first try of this POST is still being handled: ask again shortly.
                    response.status_code == 409 and error.code == "idempotency_key_in_use"
                )
                if not retryable:
                    raise error
                wait = error.retry_after
            if wait is None:
                wait = min(0.5 * 2 ** (attempt - 1), 10.0) * random.uniform(0.8, 1.2)
            elapsed = time.monotonic() - started
            if attempt > self.retries or elapsed + wait > self.retry_for_s:
                raise error
            time.sleep(wait)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise NutgrafError(
                response.status_code, "invalid_response", "the answer is not JSON"
            ) from None

    # -- one summary -------------------------------------------------------------------

    def submit(
        self,
        text: str,
        *,
        title: str | None = None,
        length: str | None = None,
        format: str | None = None,
        mode: str | None = None,
        max_words: int | None = None,
        model: str | None = None,
        strict: bool | None = None,
        truncate: bool | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        prefer_wait_s: float | None = None,
    ) -> Job:
        """POST one article and return the job as answered: queued, or already done (a
        cache hit, extractive mode, or finished within `prefer_wait_s`)."""
        body = {"text": text} | _options(
            {
                "title": title,
                "length": length,
                "format": format,
                "mode": mode,
                "max_words": max_words,
                "model": model,
                "strict": strict,
                "truncate": truncate,
                "callback_url": callback_url,
            }
        )
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        timeout_s = None
        if prefer_wait_s is not None and prefer_wait_s >= 1:
            wait = min(int(prefer_wait_s), MAX_PREFER_WAIT_S)
            headers["Prefer"] = f"wait={wait}"
            timeout_s = self.timeout_s + wait  # the server may hold the answer that long
        response = self.request(
            "POST", "/v1/summaries", json=body, headers=headers, timeout_s=timeout_s
        )
        return Job.model_validate(self._json(response))

    def summarize(
        self,
        text: str,
        *,
        title: str | None = None,
        length: str | None = None,
        format: str | None = None,
        mode: str | None = None,
        max_words: int | None = None,
        model: str | None = None,
        strict: bool | None = None,
        truncate: bool | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Job:
        """Summarize one article; with `wait` (the default), return the ended job, else
        the job as submitted. `timeout` (seconds) bounds the wait: NutgrafTimeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        prefer = None
        if wait:
            prefer = MAX_PREFER_WAIT_S if timeout is None else min(timeout, MAX_PREFER_WAIT_S)
        job = self.submit(
            text,
            title=title,
            length=length,
            format=format,
            mode=mode,
            max_words=max_words,
            model=model,
            strict=strict,
            truncate=truncate,
            callback_url=callback_url,
            idempotency_key=idempotency_key,
            prefer_wait_s=prefer,
        )
        if not wait or job.done:
            return job
        remaining = None if deadline is None else deadline - time.monotonic()
        return self.wait(job.id, timeout=remaining)

    def get(self, job_id: str) -> Job:
        """The job's current state."""
        return Job.model_validate(self._json(self.request("GET", f"/v1/summaries/{job_id}")))

    def wait(self, job_id: str, *, timeout: float | None = None) -> Job:
        """Poll the job until it ends; NutgrafTimeout after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.2
        while True:
            job = self.get(job_id)
            if job.done:
                return job
            if deadline is not None and time.monotonic() + pause > deadline:
                raise NutgrafTimeout(f"job {job_id} still {job.status} after {timeout}s", job=job)
            time.sleep(pause)
            pause = min(pause * 1.5, self.poll_interval_s)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job (409 not_cancellable once it runs or ended)."""
        response = self.request("DELETE", f"/v1/summaries/{job_id}")
        return Job.model_validate(self._json(response))

    # -- batches -----------------------------------------------------------------------

    def create_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
        **defaults: Any,
    ) -> BatchStatus:
        """POST one batch of items (each with `id` and `text`); `defaults` are options
        for every item (model, length, format, mode, max_words, strict, truncate)."""
        unknown = set(defaults) - set(OPTION_FIELDS)
        if unknown:
            raise TypeError(f"unknown batch option(s): {', '.join(sorted(unknown))}")
        body: dict[str, Any] = {"items": [dict(item) for item in items]}
        body |= _options(defaults | {"callback_url": callback_url})
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        response = self.request("POST", "/v1/batches", json=body, headers=headers)
        return BatchStatus.model_validate(self._json(response))

    def get_batch(self, batch_id: str) -> BatchStatus:
        """The batch's current state and counts."""
        response = self.request("GET", f"/v1/batches/{batch_id}")
        return BatchStatus.model_validate(self._json(response))

    def batch_results(
        self, batch_id: str, *, cursor: int = 0, limit: int = 100
    ) -> BatchResultsPage:
        """One page of a batch's items, in the order they were sent."""
        response = self.request(
            "GET",
            f"/v1/batches/{batch_id}/results",
            params={"cursor": cursor, "limit": limit},
        )
        return BatchResultsPage.model_validate(self._json(response))

    def iter_batch_results(
        self, batch_id: str, *, page_size: int = 100
    ) -> Iterator[BatchItemResult]:
        """Every item of a batch, page after page, as they are now."""
        cursor: int | None = 0
        while cursor is not None:
            page = self.batch_results(batch_id, cursor=cursor, limit=page_size)
            yield from page.items
            cursor = page.next_cursor

    def cancel_batch(self, batch_id: str) -> BatchStatus:
        """Cancel every item of the batch that is still queued."""
        response = self.request("DELETE", f"/v1/batches/{batch_id}")
        return BatchStatus.model_validate(self._json(response))

    def batch(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int = 100,
        max_in_flight: int | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        model: str | None = None,
        length: str | None = None,
        format: str | None = None,
        mode: str | None = None,
        max_words: int | None = None,
        strict: bool | None = None,
        truncate: bool | None = None,
    ) -> Iterator[BatchItemResult]:
        """Summarize many articles: records (dicts with `id`, `text` and optionally
        `title` and per-item options; other keys are not sent) go to POST /v1/batches in
        chunks, and each item is yielded once, as soon as it ended, in no fixed order.

        At most `max_in_flight` items (default two chunks) are sent and not yet yielded,
        so a long input never floods the queue. Chunk i carries the Idempotency-Key
        `{idempotency_key}-{i}` (a random key by default): a retried POST never
        duplicates a chunk. `timeout` bounds the whole call (NutgrafTimeout)."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        limit = max_in_flight or 2 * chunk_size
        key = idempotency_key or uuid.uuid4().hex
        defaults = {
            "model": model,
            "length": length,
            "format": format,
            "mode": mode,
            "max_words": max_words,
            "strict": strict,
            "truncate": truncate,
        }
        deadline = None if timeout is None else time.monotonic() + timeout
        source = iter(records)
        exhausted = False
        seen: set[str] = set()
        open_batches: list[_OpenBatch] = []
        in_flight = 0
        chunk_index = 0
        pending: list[dict[str, Any]] = []
        pause = 0.2
        while True:
            # Send chunks while the window has room.
            while not exhausted and in_flight + chunk_size <= max(limit, chunk_size):
                while len(pending) < chunk_size:
                    try:
                        record = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append(self._batch_item(record, seen))
                if not pending:
                    break
                for batch_id, sent in self._send_chunk(pending, f"{key}-{chunk_index}", defaults):
                    open_batches.append(_OpenBatch(batch_id, {item["id"] for item in sent}))
                in_flight += len(pending)
                chunk_index += 1
                pending = []
            if not open_batches:
                return
            progressed = False
            for batch in list(open_batches):
                for item in self._ended_items(batch):
                    batch.yielded.add(item.id)
                    in_flight -= 1
                    progressed = True
                    yield item
                if len(batch.yielded) == len(batch.ids):
                    open_batches.remove(batch)
            if progressed:
                pause = 0.2
                continue
            if deadline is not None and time.monotonic() + pause > deadline:
                raise NutgrafTimeout(f"{in_flight} batch items still unfinished after {timeout}s")
            time.sleep(pause)
            pause = min(pause * 1.5, self.poll_interval_s)

    def _send_chunk(
        self, items: list[dict[str, Any]], key: str, defaults: dict[str, Any]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """POST one chunk; a body over the server's size limit is sent as two halves."""
        try:
            status = self.create_batch(items, idempotency_key=key, **defaults)
        except NutgrafError as exc:
            # An article too long fails only its item; a 413 here is the body as a whole.
            if exc.status != 413 or len(items) < 2:
                raise
            half = len(items) // 2
            return self._send_chunk(items[:half], f"{key}a", defaults) + self._send_chunk(
                items[half:], f"{key}b", defaults
            )
        return [(status.id, items)]

    def _batch_item(self, record: Mapping[str, Any], seen: set[str]) -> dict[str, Any]:
        item_id, text = record.get("id"), record.get("text")
        if not isinstance(item_id, str) or not item_id:
            raise ValueError(f"every record needs a non-empty string id, not {item_id!r}")
        if not isinstance(text, str):
            raise ValueError(f"record {item_id!r} needs a string text")
        if item_id in seen:
            raise ValueError(f"record id {item_id!r} appears twice")
        seen.add(item_id)
        return {name: value for name, value in record.items() if name in ITEM_FIELDS}

    def _ended_items(self, batch: _OpenBatch) -> list[BatchItemResult]:
        """The items of the batch that ended and were not yielded yet."""
        status = self.get_batch(batch.id)
        if status.counts.finished <= len(batch.yielded) and not status.done:
            return []  # nothing new: spare the (larger) results pages
        page_size = min(MAX_RESULTS_PAGE, max(1, len(batch.ids)))
        ended = [
            item
            for item in self.iter_batch_results(batch.id, page_size=page_size)
            if item.done and item.id in batch.ids and item.id not in batch.yielded
        ]
        if status.done and len(batch.yielded) + len(ended) < len(batch.ids):
            # Polling again would never end: the server lost track of some items.
            missing = batch.ids - batch.yielded - {item.id for item in ended}
            raise NutgrafError(
                None,
                "invalid_response",
                f"batch {batch.id} ended without results for {len(missing)} item(s), "
                f"e.g. {sorted(missing)[0]!r}",
            )
        return ended
