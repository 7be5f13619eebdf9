"""Shaping raw model output into what the editor asked for (no model needed)."""

from __future__ import annotations

from nutgraf.contract import SummaryOptions
from nutgraf.summarize import is_degenerate, shape_summary

RAW = (
    "Here is a summary:\n\n**Summary:** The council approved the budget on Monday. "
    "Libraries will open on Sundays. Bus fares stay at 2 dollars. The mayor praised the vote. "
    "Critics said the plan was late. The council approved the budget on Monday. Next year"
)


def test_preamble_markdown_repeats_and_fragments_are_removed() -> None:
    units = shape_summary(RAW, SummaryOptions(length="long"))
    assert units == [
        "The council approved the budget on Monday.",
        "Libraries will open on Sundays.",
        "Bus fares stay at 2 dollars.",
        "The mayor praised the vote.",
        "Critics said the plan was late.",
    ]


def test_length_caps_sentences() -> None:
    assert len(shape_summary(RAW, SummaryOptions(length="short"))) == 2
    assert len(shape_summary(RAW, SummaryOptions(length="medium"))) == 4
    headline = shape_summary(RAW, SummaryOptions(length="headline"))
    assert headline == ["The council approved the budget on Monday."]


def test_max_words_drops_sentences_then_cuts() -> None:
    units = shape_summary(RAW, SummaryOptions(length="long", max_words=12))
    assert sum(len(u.split()) for u in units) <= 12
    one = shape_summary(
        "A very long sentence, with many words in it, goes on and on.", SummaryOptions(max_words=6)
    )
    assert len(one[0].split()) <= 6 and one[0].endswith(".")


def test_bullets_are_parsed_from_list_output() -> None:
    raw = (
        "Key points:\n- The council approved the budget.\n* Libraries open Sundays.\n3. Fares stay"
    )
    units = shape_summary(raw, SummaryOptions(format="bullets"))
    assert units == ["The council approved the budget.", "Libraries open Sundays."]


def test_degenerate_output_is_detected() -> None:
    looping = "Board: District expands free school meals " * 6
    assert is_degenerate(looping)
    assert not is_degenerate(RAW)
    assert not is_degenerate("Too short to judge.")


def test_a_paragraph_holds_no_list_numbering() -> None:
    raw = "1. Storms flooded two towns. 2. Residents fled to higher ground.\n3. Roads closed."
    units = shape_summary(raw, SummaryOptions(length="medium"))
    assert units == [
        "Storms flooded two towns.",
        "Residents fled to higher ground.",
        "Roads closed.",
    ]
    # A number that is the news stays: "fell 2. percent" is not a list, nor is "in 2024."
    kept = shape_summary("Prices rose in 2024. Sales fell.", SummaryOptions(length="short"))
    assert kept == ["Prices rose in 2024.", "Sales fell."]
