"""`python -m service` runs the API under gunicorn (what `nutgraf api` starts)."""

import sys

from nutgraf.logs import prints_to_log
from nutgraf.programs import start
from nutgraf.settings import Settings


def _run(settings: Settings) -> None:
    # Logging is set up: from here on, whatever is printed becomes a log line on stderr
    # (Celery prints its shutdown notices to stdout), and stdout stays empty.
    prints_to_log("api.stdout")
    # Imported once logging is set up: a failing import is logged like any other error.
    from service.server import run

    run(settings)


sys.exit(start("api", _run))
