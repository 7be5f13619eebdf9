"""Client.batch(): many articles through POST /v1/batches in chunks, each item yielded once,
as soon as it ended, with a bounded number of items in flight."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nutgraf.client.bodies import BatchItemResult, BatchStatus
from nutgraf.client.errors import NutgrafError, NutgrafTimeout
from nutgraf.contract.limits import DEFAULT_RESULTS_PAGE, MAX_RESULTS_PAGE
from nutgraf.contract.options import OPTION_FIELDS

# What a batch sets for its items, and each item for itself: the model and the options.
ITEM_OPTIONS = ("model", *OPTION_FIELDS)
# `ref`: the CMS's story id; a newer submission of the same story supersedes the older.
ITEM_FIELDS = frozenset({"id", "text", "title", "ref", *ITEM_OPTIONS})


class BatchApi(Protocol):
    """The calls a batch run makes: Client's."""

    poll_interval_s: float

    def create_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        idempotency_key: str | None = None,
        callback_url: str | None = None,
        priority: str | None = None,
        **defaults: Any,
    ) -> BatchStatus: ...

    def get_batch(self, batch_id: str) -> BatchStatus: ...

    def iter_batch_results(
        self, batch_id: str, *, page_size: int = DEFAULT_RESULTS_PAGE
    ) -> Iterator[BatchItemResult]: ...


@dataclass
class _OpenBatch:
    """A batch this run sent and still reads results of."""

    id: str
    ids: set[str]
    yielded: set[str] = field(default_factory=set)


@dataclass
class BatchRun:
    """One call of Client.batch(): chunk i is sent with the Idempotency-Key `{key}-{i}`."""

    api: BatchApi
    key: str
    chunk_size: int
    window: int  # most items sent and not yet yielded
    defaults: dict[str, Any]
    timeout_s: float | None = None  # bounds the whole run
    priority: str | None = None  # the lane of every item (the server's default: bulk)
    on_status: Callable[[BatchStatus], None] | None = None  # told each batch status polled

    def items(self, records: Iterable[Mapping[str, Any]]) -> Iterator[BatchItemResult]:
        """Send the records chunk by chunk while the window has room; yield ended items."""
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
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
            while not exhausted and in_flight + self.chunk_size <= self.window:
                while len(pending) < self.chunk_size:
                    try:
                        record = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append(batch_item(record, seen))
                if not pending:
                    break
                for batch_id, sent in self._send_chunk(pending, f"{self.key}-{chunk_index}"):
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
                unfinished = f"{in_flight} batch items still unfinished after {self.timeout_s}s"
                raise NutgrafTimeout(unfinished)
            time.sleep(pause)
            pause = min(pause * 1.5, self.api.poll_interval_s)

    def _send_chunk(
        self, items: list[dict[str, Any]], key: str
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """POST one chunk; a body over the server's size limit is sent as two halves."""
        try:
            status = self.api.create_batch(
                items, idempotency_key=key, priority=self.priority, **self.defaults
            )
        except NutgrafError as exc:
            # An article too long fails only its item; a 413 here is the body as a whole.
            if exc.status != 413 or len(items) < 2:
                raise
            half = len(items) // 2
            return self._send_chunk(items[:half], f"{key}a") + self._send_chunk(
                items[half:], f"{key}b"
            )
        return [(status.id, items)]

    def _ended_items(self, batch: _OpenBatch) -> list[BatchItemResult]:
        """The items of the batch that ended and were not yielded yet."""
        status = self.api.get_batch(batch.id)
        if self.on_status is not None:
            self.on_status(status)
        if status.counts.finished <= len(batch.yielded) and not status.done:
            return []  # nothing new: spare the (larger) results pages
        page_size = min(MAX_RESULTS_PAGE, max(1, len(batch.ids)))
        ended = [
            item
            for item in self.api.iter_batch_results(batch.id, page_size=page_size)
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


def batch_item(record: Mapping[str, Any], seen: set[str]) -> dict[str, Any]:
    """The fields of a record that are sent (ValueError for a bad or repeated id, or no text)."""
    item_id, text = record.get("id"), record.get("text")
    if not isinstance(item_id, str) or not item_id:
        raise ValueError(f"every record needs a non-empty string id, not {item_id!r}")
    if not isinstance(text, str):
        raise ValueError(f"record {item_id!r} needs a string text")
    if item_id in seen:
        raise ValueError(f"record id {item_id!r} appears twice")
    seen.add(item_id)
    return {name: value for name, value in record.items() if name in ITEM_FIELDS}
