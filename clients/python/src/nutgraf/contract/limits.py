"""Every limit the API enforces and its clients and documents rely on, named once.

Deployment-sized limits (article length, batch size, queue depth) are settings
(nutgraf.settings); these are fixed by the contract.
"""

from __future__ import annotations

from typing import Final

# `Prefer: wait=N` holds a server thread while it waits, so N is capped at this.
MAX_WAIT_S: Final = 30

# GET /v1/batches/<id>/results: page sizes (`limit`) and the largest `cursor`.
DEFAULT_RESULTS_PAGE: Final = 100
MAX_RESULTS_PAGE: Final = 1000
MAX_CURSOR: Final = 10**9

# Job and batch ids are 16 characters; longer ones are refused without a Redis lookup.
MAX_ID_CHARS: Final = 64
# The client's own id of a batch item.
MAX_CLIENT_ID_CHARS: Final = 200
MAX_IDEMPOTENCY_KEY_CHARS: Final = 255
# A CMS's story id (`ref`): a newer submission with the same ref supersedes the older.
MAX_REF_CHARS: Final = 200

# The `max_words` option's bounds.
MAX_WORDS_MIN: Final = 5
MAX_WORDS_MAX: Final = 1000
