"""`python -m worker` runs a worker until it is told to stop (what `nutgraf worker` starts)."""

import sys

from nutgraf.programs import start
from nutgraf.settings import Settings


def _run(settings: Settings) -> None:
    # Imported once logging is set up: Celery and the model stack behind the tasks are heavy.
    from worker.main import run

    run(settings)


sys.exit(start("worker", _run))
