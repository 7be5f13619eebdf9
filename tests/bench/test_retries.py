"""bench/retries.py: each article's first draft and retry are told apart, and the table
counts what a retry rescued. On a scripted backend; the script itself runs the bundled
model over dev articles, by hand (docs/benchmarks.md)."""

from __future__ import annotations

from types import ModuleType
from typing import cast

from helpers import ScriptedBackend
from nutgraf.contract import SummaryOptions
from nutgraf.models import Backend

ARTICLE = (
    "The city council approved the new budget on Monday after a long debate. "
    "Mayor Ann Lee said the registry would open in May. "
    "Spending on parks will rise by 12% next year."
)
FAITHFUL = "The city council approved the new budget on Monday after a long debate."
REVERSED = "The city council rejected the new budget on Monday after a long debate."


def test_records_tell_first_drafts_from_retries(retries: ModuleType) -> None:
    # One call for both first drafts; the second article's retry in a call of its own.
    backend = ScriptedBackend([FAITHFUL, REVERSED, FAITHFUL, REVERSED, REVERSED])
    summarizer = retries.RecordingSummarizer(cast(Backend, backend))
    # Three articles of their own: equal ones would share a generation.
    rows = [{"id": f"a{n}", "text": f"{ARTICLE} Story {n}."} for n in range(3)]
    records = retries.record(summarizer, rows, SummaryOptions(length="short"), batch_size=2)
    assert [(r["id"], r["first"], r["retry"], r["fallback"]) for r in records] == [
        ("a0", None, None, False),
        ("a1", "reversed", None, False),  # rescued by its retry
        ("a2", "reversed", "reversed", True),  # the next batch: failed twice, fell back
    ]
    assert [r["retried"] for r in records] == [False, True, True]
    assert backend.batches == [(2, 80), (1, 80), (1, 80), (1, 80)]


def test_the_table_counts_rescues_by_first_problem(retries: ModuleType) -> None:
    records = [
        {"first": "stitched", "retry": None, "retried": True, "fallback": False, "cpu_s": 2.0},
        {"first": "stitched", "retry": "stitched", "retried": True, "fallback": True, "cpu_s": 3},
        {"first": None, "retry": None, "retried": False, "fallback": False, "cpu_s": 1.0},
    ]
    lines = retries.table(records).splitlines()
    assert lines[1].split() == ["stitched", "2", "1", "1"]
    assert lines[2].split() == ["passed", "1", "0", "0"]
    assert lines[-1] == "3 articles, 2 retried, 1 rescued by the retry; 6 model CPU-s in all"
