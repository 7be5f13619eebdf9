"""`nutgraf-client batch` (also `nutgraf batch`): summarize a JSONL file or a folder of .txt
files through a running service, writing each result as it ends; run again with the same
output to resume. (Its options are defined in nutgraf.client.cli.)"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from nutgraf.client.bodies import BatchItemResult, BatchStatus
from nutgraf.client.errors import NutgrafError
from nutgraf.client.http import Client
from nutgraf.client.stream import ITEM_OPTIONS
from nutgraf.contract.limits import MAX_CLIENT_ID_CHARS
from nutgraf.contract.states import TERMINAL

MAX_PROBLEMS_SHOWN = 20
FSYNC_EVERY_S = 1.0


@dataclass
class Scan:
    """What a first pass over the input found: ids in order, problems, extra field names."""

    ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)


def _check_record(record: Any, where: str, first_seen: dict[str, str], scan: Scan) -> None:
    if not isinstance(record, dict):
        scan.problems.append(f"{where}: not a JSON object")
        return
    known_problems = len(scan.problems)
    item_id = record.get("id")
    if "id" not in record:
        scan.problems.append(f"{where}: missing id")
    elif isinstance(item_id, bool) or not isinstance(item_id, str | int):
        scan.problems.append(f"{where}: id must be a string or an integer")
    elif not str(item_id) or len(str(item_id)) > MAX_CLIENT_ID_CHARS:
        scan.problems.append(f"{where}: id must have 1 to {MAX_CLIENT_ID_CHARS} characters")
    elif str(item_id) in first_seen:
        scan.problems.append(
            f"{where}: duplicate id {item_id!r} (first on {first_seen[str(item_id)]})"
        )
    else:
        first_seen[str(item_id)] = where
    text = record.get("text")
    if "text" not in record:
        scan.problems.append(f"{where}: missing text")
    elif not isinstance(text, str) or not text.strip():
        scan.problems.append(f"{where}: text must be a non-empty string")
    if len(scan.problems) == known_problems:
        scan.ids.append(str(item_id))
    scan.fields.update(name for name in record if name not in ("id", "text"))


def _jsonl_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or the exception) for each non-blank line."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM from Windows tools
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                yield number, exc


def _text_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.txt") if path.is_file())


def _file_id(folder: Path, path: Path) -> str:
    return path.relative_to(folder).with_suffix("").as_posix()


def scan_input(path: Path) -> Scan:
    """Read the whole input once and report every bad record, before anything is sent."""
    scan = Scan()
    first_seen: dict[str, str] = {}
    if path.is_dir():
        files = _text_files(path)
        if not files:
            scan.problems.append("no .txt files here")
        for file in files:
            where = file.relative_to(path).as_posix()
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                scan.problems.append(f"{where}: not UTF-8 text ({exc.reason})")
                continue
            _check_record({"id": _file_id(path, file), "text": text}, where, first_seen, scan)
        return scan
    for number, parsed in _jsonl_lines(path):
        if isinstance(parsed, Exception):
            scan.problems.append(f"line {number}: not JSON ({parsed})")
        else:
            _check_record(parsed, f"line {number}", first_seen, scan)
    if not scan.ids and not scan.problems:
        scan.problems.append("no records")
    return scan


def iter_records(path: Path, skip: set[str]) -> Iterator[dict[str, Any]]:
    """The input's records (already checked by scan_input) whose ids are not in `skip`."""
    if path.is_dir():
        for file in _text_files(path):
            item_id = _file_id(path, file)
            if item_id not in skip:
                yield {"id": item_id, "text": file.read_text(encoding="utf-8")}
        return
    for _number, record in _jsonl_lines(path):
        if str(record["id"]) not in skip:
            yield record


def read_output(path: Path) -> dict[str, str]:
    """The status of each id already in the output (the last line of an id wins). A last
    line cut short by a crash is removed, so that appending starts on a fresh line."""
    statuses: dict[str, str] = {}
    if not path.exists():
        return statuses
    complete_up_to = 0
    with path.open("rb") as lines:
        for raw in lines:
            if not raw.endswith(b"\n"):
                break  # written in part when the process died
            complete_up_to += len(raw)
            try:
                record = json.loads(raw)
                statuses[str(record["id"])] = str(record["status"])
            except (ValueError, KeyError, TypeError):
                continue  # not ours (edited by hand?): ignored, kept
    if complete_up_to < path.stat().st_size:
        with path.open("r+b") as file:
            file.truncate(complete_up_to)
    return statuses


def drop_lines(path: Path, ids: set[str]) -> None:
    """Rewrite the output without the lines of `ids`, atomically (a crash keeps either)."""
    tmp = path.with_name(path.name + ".tmp")
    with path.open("rb") as old, tmp.open("wb") as new:
        for raw in old:
            try:
                if str(json.loads(raw)["id"]) in ids:
                    continue
            except (ValueError, KeyError, TypeError):
                pass
            new.write(raw)
        new.flush()
        os.fsync(new.fileno())
    os.replace(tmp, path)


def output_line(original_id: Any, item: BatchItemResult, extra: dict[str, Any]) -> str:
    """One JSONL line: the result (with the input's own id), then the input's other fields."""
    # What the server sent, no defaults filled in (a refused item's options stay {}).
    result = item.model_dump(mode="json", exclude={"id", "callback"}, exclude_unset=True)
    line = {"id": original_id, "status": result.pop("status"), "summary": result.pop("summary")}
    line |= result
    line |= {name: value for name, value in extra.items() if name not in line}
    return json.dumps(line, ensure_ascii=False) + "\n"


def _stderr_columns() -> int:
    """Width of the terminal on stderr; 0 when it is not one, or has no size."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        return 0


def _stderr(message: str) -> None:
    print(f"nutgraf: {message}", file=sys.stderr)


class _CountingClient(Client):
    """The Client, counting the chunks the service accepted: none means nothing was sent."""

    accepted = 0

    def create_batch(self, *args: Any, **kwargs: Any) -> BatchStatus:
        status = super().create_batch(*args, **kwargs)
        self.accepted += 1
        return status


def run(args: argparse.Namespace) -> int:
    """Run `nutgraf-client batch`; 0 when every item succeeded, 1 if any failed, 2 when nothing was
    sent (bad input, or a service that could not be reached or refused the first chunk)."""
    # httpx logs every request at INFO: one line per poll would bury the progress bar.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    source, out = Path(args.input), Path(args.output)
    if not source.exists():
        _stderr(f"{source} does not exist")
        return 2
    if out.exists() and out.resolve() == source.resolve():
        _stderr("the output must not be the input")
        return 2
    if args.chunk_size < 1:
        _stderr("--chunk-size must be at least 1")
        return 2
    scan = scan_input(source)
    if scan.problems:
        for problem in scan.problems[:MAX_PROBLEMS_SHOWN]:
            print(f"{source}: {problem}", file=sys.stderr)
        if len(scan.problems) > MAX_PROBLEMS_SHOWN:
            print(f"... and {len(scan.problems) - MAX_PROBLEMS_SHOWN} more", file=sys.stderr)
        _stderr(f"{len(scan.problems)} bad record(s) in {source}; nothing was sent")
        return 2
    # Keys of an output line that the result owns; an input field of the same name loses.
    replaced = sorted(scan.fields & set(BatchItemResult.model_fields))
    if replaced:
        _stderr(f"input field(s) {', '.join(replaced)} are replaced by the result's in the output")

    wanted = set(scan.ids)
    # Items that ended are not sent again (failed ones only with --retry-failed).
    previous = {i: s for i, s in read_output(out).items() if i in wanted and s in TERMINAL}
    if args.retry_failed:
        again = {i for i, s in previous.items() if s != "succeeded"}
        if again:
            drop_lines(out, again)
        previous = {i: s for i, s in previous.items() if i not in again}
    earlier_failed = sum(1 for s in previous.values() if s != "succeeded")
    to_send = len(wanted) - len(previous)
    succeeded = failed = 0
    options = {name: getattr(args, name) for name in ITEM_OPTIONS}
    # Input fields to write back with each result, kept only while the item is in flight.
    pending: dict[str, tuple[Any, dict[str, Any]]] = {}

    def records() -> Iterator[dict[str, Any]]:
        for record in iter_records(source, set(previous)):
            item_id = str(record["id"])
            pending[item_id] = (
                record["id"],
                {k: v for k, v in record.items() if k not in ("id", "text")},
            )
            yield record | {"id": item_id}

    code = 0
    if to_send:
        if previous:
            _stderr(f"{len(previous)} already in {out}: skipped")
        sized = _stderr_columns() > 0
        bar = tqdm(
            total=to_send,
            unit="article",
            desc="summarizing",
            file=sys.stderr,
            # None: no bar unless stderr is a terminal (a log file gets no \r-redrawn lines).
            disable=True if args.no_progress else None,
            # tqdm hides its bar on a terminal nobody gave a size (0 x 0): give it one.
            ncols=None if sized else 100,
            nrows=None if sized else 24,
            dynamic_ncols=sized,
            smoothing=0.1,
        )
        synced = time.monotonic()
        # No --api-key: the Client reads NUTGRAF_API_KEY.
        client = _CountingClient(args.url, api_key=args.api_key or None)
        # Opened at the first result: a run that sends nothing leaves no output file.
        with client, contextlib.ExitStack() as opened:
            f: TextIO | None = None
            try:
                # The server's estimate for each open chunk: when its last queued item ends.
                etas: dict[str, float | None] = {}

                def postfix() -> dict[str, Any]:
                    known = [eta for eta in etas.values() if eta is not None]
                    shown: dict[str, Any] = {"succeeded": succeeded, "failed": failed}
                    if known:
                        shown["server_eta"] = f"{max(known):.0f}s"
                    return shown

                def note_eta(status: BatchStatus) -> None:
                    # Only noted: the bar is redrawn as results come, from this thread.
                    etas[status.id] = status.eta_s if not status.done else None

                for item in client.batch(
                    records(),
                    chunk_size=args.chunk_size,
                    priority=args.priority,
                    on_status=note_eta,
                    **options,
                ):
                    original_id, extra = pending.pop(item.id)
                    if f is None:
                        out.parent.mkdir(parents=True, exist_ok=True)
                        f = opened.enter_context(out.open("a", encoding="utf-8"))
                    f.write(output_line(original_id, item, extra))
                    f.flush()  # in the kernel now: a crash of this process loses nothing
                    if time.monotonic() - synced > FSYNC_EVERY_S:
                        os.fsync(f.fileno())  # and on disk, about once a second
                        synced = time.monotonic()
                    if item.status == "succeeded":
                        succeeded += 1
                    else:
                        failed += 1
                    bar.update(1)
                    bar.set_postfix(postfix(), refresh=False)
            except KeyboardInterrupt:
                bar.close()
                _stderr(f"interrupted; {succeeded + failed} result(s) written to {out}")
                _stderr("run the same command again to resume")
                code = 130
            except NutgrafError as exc:
                bar.close()
                _stderr(str(exc) if client.url in str(exc) else f"{client.url}: {exc}")
                if not client.accepted:
                    # As for bad input: exit 2, and the output is as it was.
                    _stderr("nothing was sent")
                    code = 2
                else:
                    _stderr(f"{succeeded + failed} result(s) written to {out}; run again to resume")
                    code = 1
            else:
                bar.close()
    summary = f"{succeeded} succeeded, {failed} failed, {len(previous)} skipped"
    if earlier_failed:
        summary += f" ({earlier_failed} of them failed before; --retry-failed sends them again)"
    print(summary)
    if code:
        return code
    return 1 if failed or earlier_failed else 0
