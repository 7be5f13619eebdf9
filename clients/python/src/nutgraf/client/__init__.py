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
honoring `Retry-After`, within bounded attempts and time, each retry logged as a warning;
a connection refused before the service ever answered (a wrong URL) fails at once.
Every POST carries an `Idempotency-Key` (generated unless given) that its retries reuse,
so a retry after a timeout never submits the same work twice. The answers are the
contract's response models (nutgraf.contract.responses). The `nutgraf-client batch`
command (the server's `nutgraf batch` too) lives in nutgraf.client.cli and .batch.

Installed on its own (`pip install ./clients/python`: httpx, pydantic, tqdm), without the
server's model stack.
"""

from nutgraf.client.bodies import BatchCounts, BatchItemResult, BatchResultsPage, BatchStatus, Job
from nutgraf.client.errors import NutgrafError, NutgrafTimeout, parse_retry_after
from nutgraf.client.http import Client
from nutgraf.contract.states import TERMINAL

__all__ = [
    "TERMINAL",
    "BatchCounts",
    "BatchItemResult",
    "BatchResultsPage",
    "BatchStatus",
    "Client",
    "Job",
    "NutgrafError",
    "NutgrafTimeout",
    "parse_retry_after",
]
