"""The two long-running programs, the API and a worker: how each is started.

The core never imports them (they import it): `nutgraf api` and `nutgraf worker` run
them by module name, `python -m service` and `python -m worker`, and both begin the same
way, with start().
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from nutgraf.logs import configure_logging
from nutgraf.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

# The `nutgraf` subcommand, and the module that runs it.
MODULES = {"api": "service", "worker": "worker"}

# A service logs JSON lines on stderr: a progress bar's \r-redrawn text would land between
# them (model downloads and loads draw bars). Read when those libraries are imported.
NO_PROGRESS_BARS = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"}
# A worker shares its cores with the API, Redis and other workers. torch's OpenMP threads
# spin while they wait for each other, and a spinning thread whose peer was descheduled
# burns a core for nothing; passive waiting gives it back (docs/benchmarks.md, "Figures
# behind code comments"). Read when torch loads.
PASSIVE_THREADS = {"OMP_WAIT_POLICY": "PASSIVE"}


def command(name: str) -> list[str]:
    """The command line that runs program `name` ("api" or "worker") with this Python."""
    # -P: the installed package, never a folder named service/ or worker/ where it runs.
    return [sys.executable, "-P", "-m", MODULES[name]]


def require_redis(settings: Settings) -> None:
    """Exit with one clear line when no Redis is configured (the programs need one)."""
    if not settings.redis_url:
        raise SystemExit("nutgraf: set NUTGRAF_REDIS_URL (or use `nutgraf serve`)")


def warn_if_redis_may_evict(settings: Settings) -> None:
    """Log one loud warning when Redis's maxmemory-policy lets it evict keys."""
    import redis

    from nutgraf.store.jobstore import connect_to
    from nutgraf.store.keys import Keys
    from nutgraf.store.liveness import Liveness

    client = connect_to(settings)
    try:
        policy = Liveness(client, Keys()).eviction_policy()
    except redis.RedisError:
        return  # not up yet: the worker waits for it, and /readyz asks again
    finally:
        client.close()
    if policy not in (None, "noeviction"):
        log.warning(
            "REDIS MAY EVICT JOBS: maxmemory-policy is %r, so under memory pressure Redis "
            "drops job records and queued messages; set it to 'noeviction' "
            "(/readyz answers 503 until then)",
            policy,
        )


def start(name: str, run: Callable[[Settings], None]) -> int:
    """Read the settings, configure logging, check Redis, then `run`; the exit status."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"nutgraf: {exc}", file=sys.stderr)
        return 2
    # Before the program's heavy imports (inside `run`), so that a failing import is logged.
    configure_logging(settings)
    for variable, value in {**NO_PROGRESS_BARS, **PASSIVE_THREADS}.items():
        os.environ.setdefault(variable, value)
    require_redis(settings)
    # Once per program, before anything reads settings.model (a no-op when it is named).
    from nutgraf.models.auto import settle

    settings = settle(settings)
    if name == "worker":
        # The API's /readyz says it too; `nutgraf serve` shows its worker's line.
        warn_if_redis_may_evict(settings)
    try:
        run(settings)
    except KeyboardInterrupt:
        return 130
    except Exception:
        # One record with its traceback, in the log format the collectors read.
        log.exception("nutgraf %s stopped on an error", name)
        return 1
    return 0
