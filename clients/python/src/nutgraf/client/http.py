"""Client: the nutgraf HTTP API from Python, with bounded retries and idempotent POSTs."""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from nutgraf.client.bodies import BatchItemResult, BatchResultsPage, BatchStatus, Job
from nutgraf.client.errors import NutgrafError, NutgrafTimeout, error_from
from nutgraf.client.stream import ITEM_OPTIONS, BatchRun
from nutgraf.contract.limits import DEFAULT_RESULTS_PAGE, MAX_WAIT_S
from nutgraf.contract.responses import CheckBody

RETRY_STATUSES = frozenset({429, 502, 503, 504})

log = logging.getLogger(__name__)


def _options(values: Mapping[str, Any]) -> dict[str, Any]:
    # None means "the server's default": such fields are left out of the body.
    return {name: value for name, value in values.items() if value is not None}


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
        # Whether any answer ever came from self.url: until one has, a refused connection
        # is a wrong URL or a service that is not up, and retrying would only hide it.
        self.reached = False

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
        where = f"{method} {self.url}{path}"
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
                error = NutgrafError(
                    None, "connection_error", f"{where}: {type(exc).__name__}: {exc}"
                )
                if isinstance(exc, httpx.ConnectError) and not self.reached:
                    # Nothing has ever answered at this URL: fail at once, naming it.
                    raise error from None
                # Sent or not, a POST is safe to repeat: it carries its Idempotency-Key.
                wait = None
            else:
                self.reached = True
                if response.status_code < 400:
                    return response
                error = error_from(response)
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
            # Said each time (on stderr where nobody configured logging), so that a wait is
            # never silent; at most `retries` lines per call.
            said = str(error) if error.status is None else f"{where}: {error}"
            log.warning("%s; retry %d of %d in %.1fs", said, attempt, self.retries, wait)
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
        priority: str | None = None,
        ref: str | None = None,
    ) -> Job:
        """POST one article and return the job as answered: queued, or already done (a
        cache hit, extractive mode, or finished within `prefer_wait_s`). `priority` is its
        lane (`interactive`, the server's default for one article, or `bulk`); `ref` the
        CMS's story id: a newer submission of the story supersedes this job."""
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
                "priority": priority,
                "ref": ref,
            }
        )
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        timeout_s = None
        if prefer_wait_s is not None and prefer_wait_s >= 1:
            wait = min(int(prefer_wait_s), MAX_WAIT_S)
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
        priority: str | None = None,
        ref: str | None = None,
    ) -> Job:
        """Summarize one article; with `wait` (the default), return the ended job, else
        the job as submitted. `timeout` (seconds) bounds the wait: NutgrafTimeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        prefer = None
        if wait:
            prefer = MAX_WAIT_S if timeout is None else min(timeout, MAX_WAIT_S)
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
            priority=priority,
            ref=ref,
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
        """Cancel a job that has not ended: queued, or running (its generation stops);
        409 not_cancellable once it has ended."""
        response = self.request("DELETE", f"/v1/summaries/{job_id}")
        return Job.model_validate(self._json(response))

    # -- checks ------------------------------------------------------------------------

    def check(self, text: str, summary: str, *, title: str | None = None) -> CheckBody:
        """Check any summary against its article, as the worker checks its own: each
        sentence with the article sentences that support it and its problems
        (`unsupported`, `reversed`, `meta_talk`, `off_topic`). Nothing is stored, so a
        retry needs no idempotency key."""
        body = {"text": text, "summary": summary} | _options({"title": title})
        response = self.request("POST", "/v1/checks", json=body)
        return CheckBody.model_validate(self._json(response))

    # -- batches -----------------------------------------------------------------------

    def create_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
        priority: str | None = None,
        **defaults: Any,
    ) -> BatchStatus:
        """POST one batch of items (each with `id` and `text`, optionally `ref`); `defaults`
        are options for every item (model, length, format, mode, max_words, strict,
        truncate); `priority` the lane of every item (the server's default: `bulk`)."""
        unknown = set(defaults) - set(ITEM_OPTIONS)
        if unknown:
            raise TypeError(f"unknown batch option(s): {', '.join(sorted(unknown))}")
        body: dict[str, Any] = {"items": [dict(item) for item in items]}
        body |= _options(defaults | {"callback_url": callback_url, "priority": priority})
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        response = self.request("POST", "/v1/batches", json=body, headers=headers)
        return BatchStatus.model_validate(self._json(response))

    def get_batch(self, batch_id: str) -> BatchStatus:
        """The batch's current state and counts."""
        response = self.request("GET", f"/v1/batches/{batch_id}")
        return BatchStatus.model_validate(self._json(response))

    def batch_results(
        self, batch_id: str, *, cursor: int = 0, limit: int = DEFAULT_RESULTS_PAGE
    ) -> BatchResultsPage:
        """One page of a batch's items, in the order they were sent."""
        response = self.request(
            "GET",
            f"/v1/batches/{batch_id}/results",
            params={"cursor": cursor, "limit": limit},
        )
        return BatchResultsPage.model_validate(self._json(response))

    def iter_batch_results(
        self, batch_id: str, *, page_size: int = DEFAULT_RESULTS_PAGE
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
        priority: str | None = None,
        on_status: Callable[[BatchStatus], None] | None = None,
    ) -> Iterator[BatchItemResult]:
        """Summarize many articles: records (dicts with `id`, `text` and optionally
        `title` and per-item options; other keys are not sent) go to POST /v1/batches in
        chunks, and each item is yielded once, as soon as it ended, in no fixed order.

        At most `max_in_flight` items (default two chunks) are sent and not yet yielded,
        so a long input never floods the queue. Chunk i carries the Idempotency-Key
        `{idempotency_key}-{i}` (a random key by default): a retried POST never
        duplicates a chunk. `timeout` bounds the whole call (NutgrafTimeout). `priority`
        is the lane (default `bulk`); `on_status` is told every batch status polled (its
        counts and `eta_s`)."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        defaults = {
            "model": model,
            "length": length,
            "format": format,
            "mode": mode,
            "max_words": max_words,
            "strict": strict,
            "truncate": truncate,
        }
        run = BatchRun(
            self,
            key=idempotency_key or uuid.uuid4().hex,
            chunk_size=chunk_size,
            window=max(max_in_flight or 2 * chunk_size, chunk_size),
            defaults=defaults,
            timeout_s=timeout,
            priority=priority,
            on_status=on_status,
        )
        yield from run.items(records)
