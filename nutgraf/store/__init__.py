"""The Redis store: nothing else in nutgraf talks to Redis about jobs.

keys.py names every key; scripts/*.lua are the atomic steps, loaded by lua.py; jobs.py,
batches.py, idempotency.py and liveness.py are the parts JobStore (jobstore.py) composes;
bodies.py turns records into the contract's bodies; cache.py makes the cache key.
"""

from nutgraf.store.batches import BatchEntry, NewBatch
from nutgraf.store.bodies import callback_body, public_body
from nutgraf.store.cache import CACHE_KEY_VERSION, cache_key
from nutgraf.store.ids import new_job_id, now_rfc3339
from nutgraf.store.jobs import WorkItem
from nutgraf.store.jobstore import JobStore, connect
from nutgraf.store.keys import PREFIX, Keys
from nutgraf.store.submission import Submission

__all__ = [
    "CACHE_KEY_VERSION",
    "PREFIX",
    "BatchEntry",
    "JobStore",
    "Keys",
    "NewBatch",
    "Submission",
    "WorkItem",
    "cache_key",
    "callback_body",
    "connect",
    "new_job_id",
    "now_rfc3339",
    "public_body",
]
