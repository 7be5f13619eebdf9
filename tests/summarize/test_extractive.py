"""nutgraf.summarize.textrank: TextRank sentence extraction with exact offsets into the article."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import cast

import pytest

from nutgraf.contract import HEADLINE_MAX_WORDS, SENTENCE_RANGES, Length, Span, SummaryOptions
from nutgraf.summarize import Article, summarize_extractive
from nutgraf.summarize.scorer import shipped_scorer, using
from nutgraf.summarize.textrank import (
    SENTENCES_PER_LENGTH,
    extract,
    lead,
    ranked_sentences,
    sentence_count,
)
from nutgraf.text import split_sentences, word_count

ARTICLE = (Path(__file__).parent.parent / "data" / "montenegro-nato.txt").read_text("utf-8")
LENGTHS: list[Length] = ["headline", "short", "medium", "long"]

# Abbreviations, decimals, curly and straight quotes, tabs, CRLF, hard wraps, blank lines.
ODD_TEXT = (
    "  \n\tMr. Smith went to Washington on Tuesday to meet U.S. budget officials.   He said"
    " the talks\non the 3.5 percent budget increase went well.\r\n\r\n"
    "\u201cWe are very close to a budget deal,\u201d said Dr. Jones, who leads the talks."
    "  The Senate vote on the budget passed 52-48 on Jan. 5 after a long debate.\n\n\n"
    "'Nobody expected the budget vote to pass so easily,' a Senate aide said.\t \n"
)

# Ten on-topic sentences (a flood), enough for every length preset.
FLOOD = " ".join(
    [
        "Heavy rain flooded the river valley on Monday, forcing thousands from their homes.",
        "The river rose three meters overnight and flooded the main road into the valley.",
        "Rescue teams used boats to reach families trapped by the flood in the valley.",
        "Officials said the flood was the worst in the valley since records began.",
        "Farmers in the valley lost crops and livestock to the rising river water.",
        "The regional government declared an emergency after the river burst its banks.",
        "Forecasters expect more rain this week, raising fears of a second flood.",
        "Schools in the valley stayed closed as the flood water covered playgrounds.",
        "Volunteers filled sandbags to protect homes along the swollen river.",
        "Insurers estimate the flood damage in the valley at several million dollars.",
    ]
)


def assert_exact(text: str, spans: list[Span]) -> None:
    """Every span is its own slice of the text, trimmed, in order, and non-overlapping."""
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert span.text == span.text.strip()
        assert span.text
    for before, after in itertools.pairwise(spans):
        assert before.start < after.start
        assert before.end <= after.start


def flood_article(*middle: str) -> str:
    """A flood story with `middle` as its second, third, ... sentences."""
    return " ".join(
        [
            "Heavy rain flooded the river valley on Monday, forcing thousands from their homes.",
            *middle,
            "Rescue teams used boats to reach families trapped by the flood in the valley.",
            "Farmers in the valley lost crops and livestock to the rising river water.",
            "Forecasters expect more rain this week, raising fears of a second valley flood.",
        ]
    )


TWO_SENTENCE_QUOTE = (
    '"The flood in the valley is the worst we have seen, and the river is still rising.'
    ' We need boats and sandbags for the valley towns now," the regional governor said.'
)


@pytest.mark.parametrize("length", LENGTHS)
def test_article_offsets_are_exact_sentences(length: Length) -> None:
    spans = extract(ARTICLE, length)
    assert len(spans) == sentence_count(length)
    assert_exact(ARTICLE, spans)
    # Whole sentences, or a whole quotation of consecutive sentences taken as one span; a
    # headline may end early, at a clause (words within the headline cap).
    starts = {start for start, _ in split_sentences(ARTICLE)}
    ends = {end for _, end in split_sentences(ARTICLE)}
    assert all(span.start in starts for span in spans)
    assert all(
        span.end in ends or (length == "headline" and word_count(span.text) <= HEADLINE_MAX_WORDS)
        for span in spans
    )


@pytest.mark.parametrize("length", LENGTHS)
def test_odd_whitespace_offsets_are_exact(length: Length) -> None:
    spans = extract(ODD_TEXT, length)
    assert_exact(ODD_TEXT, spans)
    assert len(spans) == min(sentence_count(length), 5)
    if length == "long":
        assert [span.text[:12] for span in spans] == [
            "Mr. Smith we",
            "He said the ",
            "\u201cWe are very",
            "The Senate v",
            "'Nobody expe",
        ]
        # The hard wrap stays inside the sentence: a span is never cut at a line break.
        assert spans[1].text == "He said the talks\non the 3.5 percent budget increase went well."


@pytest.mark.parametrize(("length", "count"), [("headline", 1), ("short", 2), ("long", 5)])
def test_count_per_length(length: Length, count: int) -> None:
    assert sentence_count(length) == count
    assert len(extract(FLOOD, length)) == count


def test_medium_takes_the_count_the_scorer_was_tuned_to() -> None:
    # The shipped scorer's count, chosen by cross-validation; medium is the default length.
    assert len(extract(FLOOD)) == sentence_count("medium") == shipped_scorer().medium_sentences
    for count in (3, 4):
        with using(dataclasses.replace(shipped_scorer(), medium_sentences=count)):
            assert len(extract(FLOOD, "medium")) == count
    # A scorer tuned without a count takes the table's.
    with using(dataclasses.replace(shipped_scorer(), medium_sentences=None)):
        assert len(extract(FLOOD, "medium")) == SENTENCES_PER_LENGTH["medium"] == 3


def test_sentence_counts_fit_the_editorial_ranges() -> None:
    for length, count in SENTENCES_PER_LENGTH.items():
        fewest, most = SENTENCE_RANGES[length]
        assert fewest <= count <= most
        assert fewest <= sentence_count(length) <= most


def test_headline_prefers_a_short_sentence() -> None:
    first = (
        "Heavy rain flooded the river valley on Monday, forcing thousands of families in the"
        " valley towns to leave their homes as the river rose and rescue teams arrived."
    )
    text = first + " " + FLOOD.split(". ", 1)[1]
    (span,) = extract(text, "headline")
    assert word_count(span.text) <= HEADLINE_MAX_WORDS
    # The article's first sentence is longer than a headline, so it was passed over.
    assert word_count(first) > HEADLINE_MAX_WORDS
    assert lead(text, 1)[0].text == first


def test_headline_falls_back_to_the_opening_of_the_best_long_sentence() -> None:
    long_words = " ".join(["word"] * HEADLINE_MAX_WORDS)
    text = f"The flood hit the valley and {long_words}. The flood hit the town and {long_words}."
    (span,) = extract(text, "headline")
    best = ranked_sentences(text)[0]
    assert span.start == best.start and span.text.startswith("The flood hit the")
    assert word_count(span.text) == HEADLINE_MAX_WORDS  # no clause break: cut at the cap


@pytest.mark.parametrize("max_words", [5, 30, 60, 100, 1000])
@pytest.mark.parametrize("length", ["short", "medium", "long"])
def test_max_words_respected(length: Length, max_words: int) -> None:
    spans = extract(ARTICLE, length, max_words=max_words)
    assert_exact(ARTICLE, spans)
    assert 1 <= len(spans) <= sentence_count(length)
    total = sum(word_count(span.text) for span in spans)
    # Always one sentence, whole, even when it alone is over the cap.
    assert total <= max_words or len(spans) == 1


def test_max_words_keeps_the_best_sentence_when_all_are_too_long() -> None:
    best = extract(ARTICLE, "medium")
    (only,) = extract(ARTICLE, "medium", max_words=5)
    assert only in best


def test_max_words_large_changes_nothing() -> None:
    assert extract(ARTICLE, "long", max_words=1000) == extract(ARTICLE, "long")


def test_headline_with_max_words() -> None:
    spans = extract(ARTICLE, "headline", max_words=10)
    assert len(spans) == 1
    assert_exact(ARTICLE, spans)


def test_short_article_long_returns_all_sentences() -> None:
    text = "The council approved the new budget on Tuesday. The mayor praised the vote."
    spans = extract(text, "long")
    assert [span.text for span in spans] == [
        "The council approved the new budget on Tuesday.",
        "The mayor praised the vote.",
    ]
    assert_exact(text, spans)


def test_single_sentence_article() -> None:
    text = "The council approved the new budget on Tuesday."
    for length in LENGTHS:
        assert [span.text for span in extract(text, length)] == [text]


def test_lead_returns_the_first_sentences() -> None:
    first = [ARTICLE[start:end] for start, end in split_sentences(ARTICLE)[:3]]
    spans = lead(ARTICLE)
    assert [span.text for span in spans] == first
    assert_exact(ARTICLE, spans)
    assert [span.text for span in lead(ARTICLE, 1)] == first[:1]
    assert lead(ARTICLE, 0) == []


def test_lead_on_a_short_article() -> None:
    text = "The council approved the new budget on Tuesday. The mayor praised the vote."
    assert len(lead(text, 5)) == 2


def test_headline_and_byline_lines_are_skipped() -> None:
    text = (
        "Valley flooded after record rain\n"
        "By Jane Doe\n\n"
        "Heavy rain flooded the river valley on Monday. Rescue teams reached the valley.\n"
        "Officials said the flood in the valley was the worst on record.\n"
    )
    spans = lead(text, 2)
    assert [span.text for span in spans] == [
        "Heavy rain flooded the river valley on Monday.",
        "Rescue teams reached the valley.",
    ]
    assert_exact(text, spans)
    assert all("By Jane" not in span.text for span in extract(text, "long"))


def test_dateline_line_is_skipped() -> None:
    text = "WASHINGTON\nThe Senate passed the budget on Tuesday. The House votes next week."
    assert lead(text, 1)[0].text == "The Senate passed the budget on Tuesday."


def test_subheading_before_a_paragraph_break_is_skipped() -> None:
    text = (
        "The river burst its banks on Monday in the valley.\n\nWhat happens next\n\n"
        "Engineers will inspect the river banks next week."
    )
    assert [span.text for span in lead(text)] == [
        "The river burst its banks on Monday in the valley.",
        "Engineers will inspect the river banks next week.",
    ]


def test_line_ending_in_a_colon_is_kept() -> None:
    text = 'The mayor spoke on Monday. He said:\n\n"The river will be back in its bed soon."'
    assert lead(text)[-1].text == 'He said:\n\n"The river will be back in its bed soon."'


def test_hard_wrapped_first_sentence_is_not_cut() -> None:
    text = (
        "Heavy rain flooded the river valley\n"
        "Monday, forcing thousands from homes. Rescue teams used boats\n"
        "to reach families trapped by the flood."
    )
    assert lead(text, 1)[0].text == (
        "Heavy rain flooded the river valley\nMonday, forcing thousands from homes."
    )


def test_short_fragments_are_skipped() -> None:
    text = (
        "The council approved the budget on Tuesday. Yes. Really? "
        "The mayor praised the council vote."
    )
    assert [span.text for span in lead(text)] == [
        "The council approved the budget on Tuesday.",
        "The mayor praised the council vote.",
    ]


def test_article_of_fragments_still_answers() -> None:
    spans = extract("Prices fell. Markets rallied.", "short")
    assert [span.text for span in spans] == ["Prices fell.", "Markets rallied."]


def test_deterministic() -> None:
    for length in LENGTHS:
        first = extract(ARTICLE, length)
        assert extract("".join(list(ARTICLE)), length) == first
        assert extract(ARTICLE, length) == first


def test_off_topic_sentence_is_not_chosen() -> None:
    off_topic = "Separately, a local bakery unveiled a new chocolate croissant recipe."
    text = " ".join(
        [
            "Heavy rain flooded the river valley on Monday, forcing thousands from homes.",
            off_topic,  # second place: a strong lead position, so centrality must beat it
            "The river flooded the valley road and rescue teams evacuated valley homes.",
            "Officials said the river flood in the valley was the worst on record.",
            "More rain is forecast, and the river may flood valley homes again.",
        ]
    )
    short = [span.text for span in extract(text, "short")]
    assert len(short) == 2
    assert off_topic not in short
    assert off_topic not in [span.text for span in extract(text, "medium")]


def test_repeated_sentence_is_chosen_once() -> None:
    repeated = "Heavy rain flooded the river valley on Monday, forcing thousands from homes."
    text = " ".join(
        [
            repeated,
            "Rescue teams used boats to reach families trapped by the flood in the valley.",
            repeated,
            "Officials said the flood was the worst in the valley since records began.",
        ]
    )
    texts = [span.text for span in extract(text, "medium")]
    assert texts.count(repeated) == 1
    assert len(texts) == 3


@pytest.mark.parametrize("text", ["", "   ", "\n\t \r\n  "])
def test_empty_text(text: str) -> None:
    for length in LENGTHS:
        assert extract(text, length) == []
        assert extract(text, length, max_words=50) == []
    assert lead(text) == []


def test_unknown_length() -> None:
    with pytest.raises(ValueError, match="unknown length"):
        extract(ARTICLE, cast(Length, "epic"))


# --- Ranking: boilerplate, questions, determinism ---------------------------------------

BOILERPLATE = [
    "Scroll down for video of the river flood in the valley towns on Monday.",
    "Click here to see more pictures of the valley flood and the river.",
    "Follow the valley flood reporter @floodnews on Twitter for the latest river news.",
    "Write to the valley flood desk at valley.flood@example.com about the river flood.",
]


@pytest.mark.parametrize("boilerplate", BOILERPLATE)
def test_boilerplate_is_not_chosen(boilerplate: str) -> None:
    text = flood_article(boilerplate)
    assert boilerplate not in [span.text for span in extract(text, "long")]


def test_datestamp_header_is_skipped() -> None:
    text = (
        "By \nDaily Mail Reporter\n\nPUBLISHED:\n\n10:31 EST, 21 July 2012\n\n\n| \n\n"
        "UPDATED:\n\n10:43 EST, 21 July 2012\n\n" + flood_article()
    )
    first = lead(text, 1)[0]
    assert first.text.startswith("Heavy rain flooded")
    assert_exact(text, [first])
    assert all("PUBLISHED" not in span.text for span in extract(text, "long"))


def test_question_ranks_after_statements() -> None:
    question = "Will the river flood the valley homes again when more rain falls this week?"
    text = flood_article(question)
    assert question not in [span.text for span in extract(text, "medium")]


def test_ranking_is_deterministic_across_calls_and_ties() -> None:
    text = flood_article(TWO_SENTENCE_QUOTE, *BOILERPLATE)
    for length in LENGTHS:
        runs = {tuple((s.start, s.end) for s in extract(text, length)) for _ in range(3)}
        assert len(runs) == 1
    # A repeated sentence is taken once (exact score ties: tests/summarize/test_scorer.py).
    twin = "The valley river flooded the town and rescue teams evacuated the valley homes."
    (span,) = extract(f"{twin} {twin}", "medium")
    assert span.text == twin


def test_a_headline_too_long_for_one_is_its_opening_clause() -> None:
    text = (
        "Flood waters forced two thousand residents of the riverside town of Riverton from "
        "their homes on Monday, after three days of heavy rain swelled the river past its "
        "banks and over the old flood defences."
    )
    (span,) = extract(text, "headline")
    assert span.text == text[span.start : span.end]
    assert span.text == (
        "Flood waters forced two thousand residents of the riverside town of Riverton from "
        "their homes on Monday"
    )
    result = summarize_extractive(Article(text, options=SummaryOptions(length="headline")))
    assert result.summary == span.text + "."
    assert result.provenance is not None and result.provenance[0].support == [span]
