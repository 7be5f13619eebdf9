"""Logging set-up shared by every entry point: JSON lines (default) or text for humans."""

from __future__ import annotations

import contextvars
import io
import logging
import os
import sys
from typing import Any

from nutgraf.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"

# Fields bound to the current request (or other unit of work) and added to every record
# logged inside it, whichever module logs: a line from the API carries its request_id.
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "nutgraf_log_context", default=None
)


def bind(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Add fields to every record logged in this context until unbind(token)."""
    return _context.set({**(_context.get() or {}), **fields})


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    """Undo the bind() that returned `token`."""
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record (explicit `extra=` fields win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, process, logger, message, then any extras."""
    from pythonjsonlogger.json import JsonFormatter

    class _TimeFirst(JsonFormatter):
        # The timestamp is added last by the library; readers scan for it first.
        def add_fields(
            self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
        ) -> None:
            super().add_fields(log_data, record, message)
            rest = [(k, v) for k, v in log_data.items() if k != "time"]
            stamp = log_data.get("time")
            log_data.clear()
            log_data["time"] = stamp
            log_data.update(rest)

    return _TimeFirst(
        "{levelname}{processName}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "processName": "process", "name": "logger"},
        timestamp="time",
    )


def configure_logging(settings: Settings, log_format: str | None = None) -> None:
    """Send the root logger to stderr as settings.log_format (or `log_format`) says."""
    # Once per entry point, before heavy imports, so that a failing import is logged.
    # stderr, never stdout: stdout is the commands' output (`summarize --json | jq`).
    # Line-buffered: a log redirected to a file or a pipe shows each line as it happens.
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(line_buffering=True)
    handler = logging.StreamHandler(sys.stderr)
    if (log_format or settings.log_format) == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)


class _PrintsToLog:
    """A stdout whose every line becomes one INFO record in the log's format, on stderr."""

    # No fileno(): Celery's signal handlers write their notices straight to the file
    # descriptor of sys.__stdout__ when it has one, and skip them when it has none.

    def __init__(self, formatter: logging.Formatter, name: str) -> None:
        self.formatter = formatter
        self.name = name

    def write(self, text: str) -> int:
        """Log each non-blank line of `text`."""
        for line in text.splitlines():
            if line.strip():
                record = logging.LogRecord(self.name, logging.INFO, "", 0, line.strip(), None, None)
                # os.write, not a handler: print() may run in a signal handler, which may
                # have interrupted a thread that holds logging's locks.
                os.write(sys.stderr.fileno(), (self.formatter.format(record) + "\n").encode())
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def isatty(self) -> bool:
        """Never a terminal."""
        return False


def prints_to_log(name: str) -> None:
    """Make what a service prints (Celery writes notices to sys.__stdout__) log lines on
    stderr, under logger `name`: a service's stdout stays empty. After configure_logging."""
    root = logging.getLogger()
    formatter = root.handlers[0].formatter if root.handlers else None
    if formatter is None:
        return
    sys.stdout.flush()
    # Output below Python (a C library's printf) goes to stderr too.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    writer = _PrintsToLog(formatter, name)
    sys.stdout = sys.__stdout__ = writer  # type: ignore[misc,assignment]
