"""The `nutgraf-client` command: `batch` summarizes a JSONL file or a folder of .txt files
through a running service. The server's `nutgraf batch` hands its arguments to main()."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import get_args

from nutgraf.client.batch import run
from nutgraf.contract.options import Format, Length, Mode

LENGTHS, FORMATS, MODES = list(get_args(Length)), list(get_args(Format)), list(get_args(Mode))
# What a shell reports for a program killed by SIGPIPE (128 + 13): `... | head`.
BROKEN_PIPE_EXIT = 141
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser(prog: str = "nutgraf-client") -> argparse.ArgumentParser:
    """The command line of `nutgraf-client` (prog `nutgraf` when the server's CLI runs it)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    batch = sub.add_parser("batch", help="summarize a JSONL file or folder through a service")
    add_batch_arguments(batch)
    return parser


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `batch`."""
    parser.add_argument("input", help="a JSONL file ({id, text, ...} per line) or a folder of .txt")
    parser.add_argument("-o", "--output", required=True, help="JSONL results, appended; resumes")
    parser.add_argument("--url", required=True, help="the service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api-key", help="Bearer key (default NUTGRAF_API_KEY)")
    parser.add_argument("--model", help="a model the service serves (default: its default)")
    parser.add_argument("--length", choices=LENGTHS)
    parser.add_argument("--format", choices=FORMATS)
    parser.add_argument("--mode", choices=MODES)
    parser.add_argument("--max-words", type=int, help="a hard cap on each summary's words")
    parser.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="fall back to extractive unless every sentence is found in the article",
    )
    parser.add_argument(
        "--truncate", action="store_true", default=None, help="cut articles over the window"
    )
    parser.add_argument(
        "--priority",
        choices=("bulk", "interactive"),
        help="the lane (default bulk: a backfill never delays an editor's click)",
    )
    parser.add_argument("--chunk-size", type=int, default=100, help="items per POST /v1/batches")
    parser.add_argument(
        "--retry-failed", action="store_true", help="send again the items that failed before"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(argv: list[str] | None = None, prog: str = "nutgraf-client") -> int:
    """Parse the command line and run the command; its exit status."""
    try:
        try:
            code = _main(argv, prog)
        finally:
            # Here, not at exit: a reader that closed the pipe early fails this flush.
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The Python docs' recipe (library/signal.html, "Note on SIGPIPE"): stdout to
        # devnull, so that the interpreter's own flush at exit cannot fail loudly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return BROKEN_PIPE_EXIT
    return code


def _main(argv: list[str] | None, prog: str) -> int:
    args = build_parser(prog).parse_args(argv)
    # Log lines (a retry's warning) go to stderr; stdout is the command's output.
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
