"""`python -m service` runs the API under gunicorn (what `nutgraf api` starts)."""

import sys

from nutgraf.programs import start
from nutgraf.settings import Settings


def _run(settings: Settings) -> None:
    # Imported once logging is set up: a failing import is logged like any other error.
    from service.server import run

    run(settings)


sys.exit(start("api", _run))
