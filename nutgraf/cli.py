"""The `nutgraf` command: serve, api, worker, summarize, check, eval, batch, models, config,
webhook-secret."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import get_args
from urllib.parse import urlsplit

from nutgraf import programs
from nutgraf.contract.limits import MAX_WORDS_MAX, MAX_WORDS_MIN
from nutgraf.contract.options import Format, Length, Mode
from nutgraf.logs import configure_logging
from nutgraf.settings import Settings, SettingsError, load_settings

LENGTHS, FORMATS, MODES = list(get_args(Length)), list(get_args(Format)), list(get_args(Mode))
# What a shell reports for a program killed by SIGPIPE (128 + 13): `nutgraf config | head`.
BROKEN_PIPE_EXIT = 141


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; its exit status."""
    try:
        try:
            code = _main(argv)
        finally:
            # Here, not at exit: a reader that closed the pipe early fails this flush, also
            # after argparse's --help (a SystemExit).
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_closed()
    return code


def _stdout_closed() -> int:
    """The reader of stdout went away (`nutgraf config | head`): stop quietly."""
    # The Python docs' recipe (library/signal.html, "Note on SIGPIPE"): point stdout at
    # devnull, so that the interpreter's own flush at exit cannot fail and print a traceback.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return BROKEN_PIPE_EXIT


def _main(argv: list[str] | None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["batch"]:
        # The client distribution's command, with its own options and --help; imported on
        # use, as httpx and tqdm are not needed by the other commands.
        from nutgraf.client.cli import main as client_main

        return client_main(argv, prog="nutgraf")
    parser = argparse.ArgumentParser(prog="nutgraf", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run Redis (unless NUTGRAF_REDIS_URL), a worker and the API")
    sub.add_parser("api", help="run the HTTP API under gunicorn")
    sub.add_parser("worker", help="run a Celery worker")
    summarize = sub.add_parser("summarize", help="summarize a file in-process and print it")
    summarize.add_argument("file", help="a text file, or - for standard input")
    summarize.add_argument("--model", help="preset, HF id or path (default NUTGRAF_MODEL)")
    # The API's option fields, with the API's defaults (nutgraf.contract.options).
    summarize.add_argument("--length", default="medium", choices=LENGTHS)
    summarize.add_argument("--format", default="paragraph", choices=FORMATS)
    summarize.add_argument(
        "--mode", default="abstractive", choices=MODES, help="extractive needs no model"
    )
    summarize.add_argument(
        "--max-words",
        type=int,
        help=f"a hard cap on the summary's words ({MAX_WORDS_MIN} to {MAX_WORDS_MAX})",
    )
    summarize.add_argument("--title")
    summarize.add_argument("--json", action="store_true", help="print the full result as JSON")
    check = sub.add_parser(
        "check", help="check a summary against its article and print what is wrong, as JSON"
    )
    check.add_argument("article", help="the article: a text file, or - for standard input")
    check.add_argument("summary", help="the summary: a text file, or - for standard input")
    check.add_argument("--title")
    check.add_argument("--url", help="check through this service (default: in this process)")
    check.add_argument("--api-key", help="the service's Bearer key (default NUTGRAF_API_KEY)")
    evaluate = sub.add_parser("eval", help="score summaries of a JSONL set against references")
    evaluate.add_argument("data", help="JSONL: one {text, summary[, title, id]} per line")
    evaluate.add_argument("--model", help="preset, HF id or path (default NUTGRAF_MODEL)")
    evaluate.add_argument(
        "--length",
        default="medium",
        choices=[*LENGTHS, "all"],
        help="the length to score, or all four in turn (one table each)",
    )
    evaluate.add_argument("--format", default="paragraph", choices=FORMATS)
    evaluate.add_argument("--mode", default="abstractive", choices=MODES)
    evaluate.add_argument("--max-words", type=int, help="word cap passed to the engine")
    evaluate.add_argument("--limit", type=int, help="only the first N records")
    evaluate.add_argument("--batch-size", type=int, default=4, help="articles per batch")
    evaluate.add_argument("--json", metavar="OUT", help="also write the figures to OUT.json")
    evaluate.add_argument(
        "--folds",
        type=int,
        metavar="K",
        help="cross-validate: score each of K folds with the ranker fitted on the others",
    )
    # Listed here, run above by nutgraf.client.cli (the same as `nutgraf-client batch`).
    sub.add_parser("batch", help="summarize a JSONL file or folder through a service")
    sub.add_parser("models", help="list the model presets")
    sub.add_parser("config", help="print every NUTGRAF_* setting and its value")
    sub.add_parser("webhook-secret", help="print a new random secret for NUTGRAF_WEBHOOK_SECRET")
    args = parser.parse_args(argv)
    if args.command == "webhook-secret":  # before the settings: it mends a malformed one
        from nutgraf.webhooks.signing import new_secret

        print(new_secret())
        return 0

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"nutgraf: {exc}", file=sys.stderr)
        return 2
    # The services log as NUTGRAF_LOG_FORMAT says (JSON for log collectors by default);
    # commands a person runs in a terminal keep the text format.
    services = ("serve", "api", "worker")
    configure_logging(settings, None if args.command in services else "text")
    if args.command == "serve":
        # `nutgraf serve` decides once for its worker and API (they inherit the choice);
        # `api` and `worker` decide when their program starts, summarize and eval on load.
        from nutgraf.models.auto import settle

        settings = settle(settings)
    commands = {
        "serve": lambda: _serve(settings),
        "api": lambda: _exec_program(settings, "api"),
        "worker": lambda: _exec_program(settings, "worker"),
        "summarize": lambda: summarize_file(settings, args),
        "check": lambda: check_files(args),
        "eval": lambda: _run_eval(settings, args),
        "models": list_models,
        "config": lambda: print_config(settings),
    }
    return commands[args.command]() or 0


def _exec_program(settings: Settings, name: str) -> int:
    """Become the API or a worker: this same process (its pid, session and signals) runs
    `python -m service` or `python -m worker`, which the core never imports."""
    programs.require_redis(settings)
    command = programs.command(name)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def _serve(settings: Settings) -> int:
    from nutgraf.serve import serve

    return serve(settings)


def summarize_file(settings: Settings, args: argparse.Namespace) -> int:
    """Run the engine in this process on one file and print the summary."""
    from pydantic import ValidationError

    from nutgraf import models
    from nutgraf.contract import SummaryOptions
    from nutgraf.summarize import Article, load_summarizer, summarize_extractive

    try:
        # The same fields, defaults and bounds as a POST /v1/summaries body.
        options = SummaryOptions(
            length=args.length, format=args.format, mode=args.mode, max_words=args.max_words
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"--{str(e['loc'][0]).replace('_', '-')}: {e['msg']}" for e in exc.errors()
        )
        print(f"nutgraf: summarize: {problems}", file=sys.stderr)
        return 2
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
    if not text.strip():
        print("nutgraf: the input is empty", file=sys.stderr)
        return 2
    article = Article(text, args.title, options)
    if options.mode == "extractive":
        # As the API does: no model is loaded (or named) for the article's own sentences.
        spec, result = models.EXTRACTIVE, summarize_extractive(article)
    else:
        try:
            summarizer = load_summarizer(settings, args.model)
        except models.ModelError as exc:
            print(f"nutgraf: {exc}", file=sys.stderr)
            return 1
        spec, result = summarizer.spec, summarizer.summarize(article)
    if args.json:
        print(json.dumps({"model": spec.public(), **result.to_json()}, indent=2))
    else:
        print(result.summary)
    return 0


def check_files(args: argparse.Namespace) -> int:
    """Check a summary against its article (POST /v1/checks' answer) and print it as JSON:
    in this process, which needs no model, or through the service at --url."""
    if args.article == "-" and args.summary == "-":
        print("nutgraf: check: only one of ARTICLE and SUMMARY can be -", file=sys.stderr)
        return 2
    texts = []
    for name in (args.article, args.summary):
        try:
            texts.append(sys.stdin.read() if name == "-" else Path(name).read_text())
        except OSError as exc:
            print(f"nutgraf: check: {exc}", file=sys.stderr)
            return 2
        if not texts[-1].strip():
            print(f"nutgraf: check: {name} is empty", file=sys.stderr)
            return 2
    article, summary = texts
    if args.url:
        from nutgraf.client import Client, NutgrafError

        try:
            with Client(args.url, api_key=args.api_key) as client:
                body = client.check(article, summary, title=args.title)
        except NutgrafError as exc:
            print(f"nutgraf: check: {exc}", file=sys.stderr)
            return 1
    else:
        from nutgraf.summarize.checks import check_summary

        body = check_summary(article, summary, args.title)
    print(json.dumps(body.model_dump(mode="json"), indent=2, ensure_ascii=False))
    return 0


def _run_eval(settings: Settings, args: argparse.Namespace) -> int:
    # Imported on use: ROUGE (nltk) and the engine are not needed by the other commands.
    from nutgraf.eval_command import run_eval

    return run_eval(settings, args)


def list_models() -> int:
    """Print the presets."""
    from nutgraf.models import PRESETS

    for spec in PRESETS.values():
        print(f"{spec.name:24} {spec.family or '':8} {spec.source:36} {spec.description}")
    return 0


def print_config(settings: Settings) -> int:
    """Print each setting with its current value, secrets masked (the output gets pasted
    into tickets and chats)."""
    for name in Settings.model_fields:
        print(f"NUTGRAF_{name.upper()}={shown_value(name, getattr(settings, name))}")
    return 0


# Settings whose whole value is a secret: API keys, webhook secrets, any future password or
# token. Names, not types: the settings stay plain strings for the code that uses them.
SECRET_SETTING = re.compile(r"(?:^|_)(?:keys?|secrets?|password|token)$")
MASK = "****"


def shown_value(name: str, value: object) -> object:
    """What `nutgraf config` prints for a setting: secrets masked, URLs without passwords."""
    if isinstance(value, list):
        return [shown_value(name, item) for item in value]
    if not isinstance(value, str) or not value:
        return value
    if SECRET_SETTING.search(name):
        # A webhook secret keeps its whsec_ prefix: it says which format was given.
        return "whsec_" + MASK if value.startswith("whsec_") else MASK
    if "://" in value:
        # Celery takes several broker URLs separated by semicolons (failover).
        return ";".join(_url_without_password(url) for url in value.split(";"))
    return value


def _url_without_password(url: str) -> str:
    """`url` with the password of its user part (and a `password` query parameter)
    masked: amqp://user:pass@host/ becomes amqp://user:****@host/."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL after all: print nothing of it rather than a secret
        return MASK
    # Edited in place rather than rebuilt, which would respell some URLs (unix:///path).
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        url = url.replace(parts.netloc, f"{user.partition(':')[0]}:{MASK}@{host}", 1)
    if parts.query:
        head, _, query = url.partition("?")
        url = head + "?" + re.sub(r"(?i)(^|&)(password=)[^&]*", rf"\g<1>\g<2>{MASK}", query)
    return url


if __name__ == "__main__":
    sys.exit(main())
