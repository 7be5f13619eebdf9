"""The pieces of `nutgraf batch` that need no service: reading the input and the output,
and writing a result line. (The command against a real service:
tests/integration/test_batch_cli.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nutgraf.client import BatchItemResult
from nutgraf.client.batch import output_line, read_output, scan_input


def item_body(**fields: Any) -> dict[str, Any]:
    """A batch item's body as the API sends it."""
    body: dict[str, Any] = {
        "id": "7",
        "job_id": "j",
        "status": "succeeded",
        "summary": "New.",
        "bullets": None,
        "sentences": None,
        "checks": {"unsupported": [], "regenerated": False},
        "model": {"name": "smollm2-135m", "revision": "r1"},
        "options": {"length": "medium"},
        "cached": False,
        "created_at": "2026-01-01T00:00:00.120Z",
        "completed_at": "2026-01-01T00:00:09.003Z",
        "input": {"characters": 10, "tokens": 4, "chunks": 1, "truncated": False},
        "output": {"tokens": 3},
        "error": None,
        "callback": None,
    }
    return body | fields


def test_a_line_cut_short_by_a_crash_is_dropped_before_appending(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    whole = json.dumps({"id": "a", "status": "succeeded"}) + "\n"
    out.write_text(whole + '{"id": "b", "sta', encoding="utf-8")
    assert read_output(out) == {"a": "succeeded"}
    assert out.read_text(encoding="utf-8") == whole


def test_a_folder_scan_checks_every_file(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "fine.txt").write_text("A story.", encoding="utf-8")
    scan = scan_input(tmp_path)
    assert scan.ids == ["fine"]
    assert [p.split(": ", 1)[1].split(" ")[0] for p in scan.problems] == ["text", "not"]


def test_an_output_line_keeps_the_result_over_a_clashing_input_field() -> None:
    item = BatchItemResult.model_validate(item_body())
    line = json.loads(output_line(7, item, {"summary": "reference", "url": "https://x"}))
    assert line["id"] == 7 and line["summary"] == "New." and line["url"] == "https://x"


def test_an_output_line_is_the_result_as_the_server_sent_it() -> None:
    # A refused item: no model, options left empty, a field a newer server added.
    sent = item_body(status="failed", summary=None, checks=None, model=None, options={})
    sent |= {"input": {"characters": 3}, "output": None, "future": {"a": 1}}
    sent["error"] = {"code": "invalid_request", "message": "text must not be empty"}
    line = json.loads(output_line("7", BatchItemResult.model_validate(sent), {"extra": 1}))
    expected = {k: v for k, v in sent.items() if k != "callback"} | {"extra": 1}
    assert line == expected
    assert list(line)[:3] == ["id", "status", "summary"]
