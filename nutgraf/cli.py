"""The `nutgraf` command: serve, api, worker, summarize, eval, batch, models, config."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from nutgraf.logs import configure_logging
from nutgraf.settings import Settings, SettingsError, env_for_children, load_settings

log = logging.getLogger("nutgraf")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="nutgraf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run Redis (unless NUTGRAF_REDIS_URL), a worker and the API")
    sub.add_parser("api", help="run the HTTP API under gunicorn")
    sub.add_parser("worker", help="run a Celery worker")
    summarize = sub.add_parser("summarize", help="summarize a file in-process and print it")
    summarize.add_argument("file", help="a text file, or - for standard input")
    summarize.add_argument("--model", help="preset, HF id or path (default NUTGRAF_MODEL)")
    summarize.add_argument(
        "--length", default="medium", choices=["headline", "short", "medium", "long"]
    )
    summarize.add_argument("--title")
    summarize.add_argument("--json", action="store_true", help="print the full result as JSON")
    evaluate = sub.add_parser("eval", help="score summaries of a JSONL set against references")
    evaluate.add_argument("data", help="JSONL: one {text, summary[, title, id]} per line")
    evaluate.add_argument("--model", help="preset, HF id or path (default NUTGRAF_MODEL)")
    evaluate.add_argument(
        "--length", default="medium", choices=["headline", "short", "medium", "long"]
    )
    evaluate.add_argument("--format", default="paragraph", choices=["paragraph", "bullets"])
    evaluate.add_argument("--mode", default="abstractive", choices=["abstractive", "extractive"])
    evaluate.add_argument("--max-words", type=int, help="word cap passed to the engine")
    evaluate.add_argument("--limit", type=int, help="only the first N records")
    evaluate.add_argument("--batch-size", type=int, default=4, help="articles per batch")
    evaluate.add_argument("--json", metavar="OUT", help="also write the figures to OUT.json")
    batch = sub.add_parser("batch", help="summarize a JSONL file or folder through a service")
    _batch_arguments(batch)
    sub.add_parser("models", help="list the model presets")
    sub.add_parser("config", help="print every NUTGRAF_* setting and its value")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"nutgraf: {exc}", file=sys.stderr)
        return 2
    # The services log as NUTGRAF_LOG_FORMAT says (JSON for log collectors by default);
    # commands a person runs in a terminal keep the text format.
    services = ("serve", "api", "worker")
    configure_logging(settings, None if args.command in services else "text")
    commands = {
        "serve": lambda: serve(settings),
        "api": lambda: _run_api(settings),
        "worker": lambda: _run_worker(settings),
        "summarize": lambda: summarize_file(settings, args),
        "eval": lambda: _run_eval(settings, args),
        "batch": lambda: _run_batch(settings, args),
        "models": list_models,
        "config": lambda: print_config(settings),
    }
    try:
        return commands[args.command]() or 0
    except KeyboardInterrupt:
        return 130


def _require_redis(settings: Settings) -> None:
    if not settings.redis_url:
        raise SystemExit("nutgraf: set NUTGRAF_REDIS_URL (or use `nutgraf serve`)")


def _run_api(settings: Settings) -> int:
    _require_redis(settings)
    from service.server import run

    run(settings)
    return 0


def _run_worker(settings: Settings) -> int:
    _require_redis(settings)
    from worker.main import run

    run(settings)
    return 0


def summarize_file(settings: Settings, args: argparse.Namespace) -> int:
    """Run the engine in this process on one file and print the summary."""
    from nutgraf import models
    from nutgraf.contract import SummaryOptions
    from nutgraf.engine import Article, load_summarizer

    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    if not text.strip():
        print("nutgraf: the input is empty", file=sys.stderr)
        return 2
    try:
        summarizer = load_summarizer(settings, args.model)
    except models.ModelError as exc:
        print(f"nutgraf: {exc}", file=sys.stderr)
        return 1
    spec = summarizer.spec
    result = summarizer.summarize(Article(text, args.title, SummaryOptions(length=args.length)))
    if args.json:
        print(json.dumps({"model": spec.public(), **result.to_json()}, indent=2))
    else:
        print(result.summary)
    return 0


def _run_eval(settings: Settings, args: argparse.Namespace) -> int:
    # Imported on use: ROUGE (nltk) and the engine are not needed by the other commands.
    from nutgraf.evaluate import run_eval

    return run_eval(settings, args)


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    from nutgraf.batch_cli import add_arguments

    add_arguments(parser)


def _run_batch(settings: Settings, args: argparse.Namespace) -> int:
    # Imported on use: httpx and tqdm are not needed by the other commands.
    from nutgraf.batch_cli import run

    return run(settings, args)


def list_models() -> int:
    """Print the presets."""
    from nutgraf.models import PRESETS

    for spec in PRESETS.values():
        print(f"{spec.name:24} {spec.family or '':8} {spec.source:36} {spec.description}")
    return 0


def print_config(settings: Settings) -> int:
    """Print each setting with its current value."""
    for name in Settings.model_fields:
        print(f"NUTGRAF_{name.upper()}={getattr(settings, name)}")
    return 0


def serve(settings: Settings) -> int:
    """Run everything on this machine and stop it all cleanly on Ctrl-C or SIGTERM."""
    from nutgraf.redis_server import RedisServer

    redis_server = None
    if not settings.redis_url:
        redis_server = RedisServer(settings.data_dir / "redis")
        redis_server.start()
        log.info("started redis-server on %s (AOF in %s)", redis_server.url, redis_server.data_dir)
        settings = settings.model_copy(update={"redis_url": redis_server.url})
    env = env_for_children(settings)
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    children: dict[str, subprocess.Popen[bytes]] = {}
    exit_code = 0
    try:
        for name in ("worker", "api"):
            # Own session: Ctrl-C reaches only us, and we stop the parts in order.
            children[name] = subprocess.Popen(
                [sys.executable, "-m", "nutgraf.cli", name], env=env, start_new_session=True
            )
        log.info(
            "nutgraf is starting on http://%s:%d (Ctrl-C stops it)", settings.host, settings.port
        )
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    log.error("%s exited with code %s; stopping", name, child.returncode)
                    exit_code = 1
                    stopping = True
            time.sleep(0.2)
    finally:
        for name in ("api", "worker"):
            if name in children:
                _terminate(name, children[name])
        if redis_server is not None:
            redis_server.stop()
            log.info("stopped redis-server")
    return exit_code


def _terminate(name: str, child: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after the grace time.
    A job cut short stays unacknowledged in Redis and runs again later."""
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(grace_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", name, grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)  # leftovers, e.g. pool children
    child.wait()
    log.info("stopped %s", name)


if __name__ == "__main__":
    sys.exit(main())
