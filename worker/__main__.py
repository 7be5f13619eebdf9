"""`python -m worker` runs a worker until it is told to stop (what `nutgraf worker` starts)."""

import sys

from nutgraf.logs import prints_to_log
from nutgraf.programs import start
from nutgraf.settings import Settings


def _run(settings: Settings) -> None:
    # Logging is set up: from here on, whatever is printed becomes a log line on stderr
    # (Celery prints its shutdown notices to stdout), and stdout stays empty.
    prints_to_log("worker.stdout")
    # Imported once logging is set up: Celery and the model stack behind the tasks are heavy.
    from worker.main import run

    run(settings)


sys.exit(start("worker", _run))
