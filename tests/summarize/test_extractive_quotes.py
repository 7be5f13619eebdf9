"""Extractive mode's quotations: taken whole with their attribution, or not at all."""

from __future__ import annotations

import pytest
from test_extractive import LENGTHS, TWO_SENTENCE_QUOTE, assert_exact, flood_article

from nutgraf.contract import SENTENCE_RANGES, Length
from nutgraf.summarize.textrank import extract
from nutgraf.text import split_sentences

# --- Quotations: taken whole or not at all ----------------------------------------------


def balanced(text: str) -> bool:
    """True when the text's double quotes, straight and curly, pair up."""
    return text.count('"') % 2 == 0 and text.count("\u201c") == text.count("\u201d")


@pytest.mark.parametrize("length", LENGTHS)
def test_every_span_balances_its_quotes(length: Length) -> None:
    text = flood_article(TWO_SENTENCE_QUOTE)
    spans = extract(text, length)
    assert_exact(text, spans)
    assert all(balanced(span.text) for span in spans)


def test_quotation_over_two_sentences_is_one_span_with_its_attribution() -> None:
    text = flood_article(TWO_SENTENCE_QUOTE)
    spans = extract(text, "medium")
    assert_exact(text, spans)
    assert TWO_SENTENCE_QUOTE in [span.text for span in spans]
    # The unit counts as two sentences: three wanted, four at most for medium.
    fewest, most = SENTENCE_RANGES["medium"]
    assert fewest <= sum(len(split_sentences(span.text)) for span in spans) <= most


def test_curly_quotation_is_taken_whole() -> None:
    quote = TWO_SENTENCE_QUOTE.replace('"', "\u201c", 1).replace('"', "\u201d", 1)
    text = flood_article(quote)
    spans = extract(text, "medium")
    assert_exact(text, spans)
    assert quote in [span.text for span in spans]


def test_sentence_inside_a_quotation_is_never_alone() -> None:
    inner = "We need boats and sandbags for the valley towns now,"
    text = flood_article(TWO_SENTENCE_QUOTE)
    for length in LENGTHS:
        for span in extract(text, length):
            assert not span.text.startswith(inner[:20])
            assert not span.text.startswith('"The flood') or span.text == TWO_SENTENCE_QUOTE


def test_long_quotation_is_skipped() -> None:
    quote = (
        '"The flood in the valley is the worst we have seen. The river is still rising.'
        ' The valley towns need boats. We need sandbags for the river banks," he said.'
    )
    text = flood_article(quote)
    for length in LENGTHS:
        spans = extract(text, length)
        assert_exact(text, spans)
        assert all('"' not in span.text for span in spans)


def test_unclosed_quotation_is_skipped() -> None:
    broken = '"The flood in the valley is the worst we have seen, the regional governor said.'
    text = flood_article(broken)
    assert all(broken not in span.text for span in extract(text, "long"))


def test_headline_is_never_part_of_a_quotation() -> None:
    # The quotation's first sentence is short and central: a headline candidate on its own.
    text = flood_article(
        '"The river flooded the valley homes. Boats are on the way," the governor said.'
    )
    for max_words in (None, 8):
        (span,) = extract(text, "headline", max_words=max_words)
        assert balanced(span.text)
        assert span.text.startswith("Heavy rain")


def test_quotation_continued_over_paragraphs_is_one_quotation() -> None:
    # News style: each paragraph of a long quotation opens a mark, only the last closes it.
    text = (
        "Heavy rain flooded the river valley on Monday, forcing thousands from their homes.\n\n"
        'The governor said: "The flood in the valley is the worst we have seen in years.\n\n'
        '"We need boats for the valley towns and sandbags for the river banks now."\n\n'
        "Rescue teams used boats to reach families trapped by the flood in the valley.\n\n"
        "Farmers in the valley lost crops and livestock to the rising river water."
    )
    spans = extract(text, "long")
    assert_exact(text, spans)
    quotation = [span.text for span in spans if "governor" in span.text or "boats for" in span.text]
    # One span from the opening mark's sentence to the closing mark's, three marks in all.
    assert quotation == [text[text.index("The governor") : text.index('now."') + 5]]


def test_single_quotes_and_apostrophes_are_not_quotations() -> None:
    text = flood_article(
        "The valley's farmers said the river's flood was 'the worst in living memory' today."
    )
    spans = extract(text, "long")
    assert len(spans) == 5
    assert_exact(text, spans)


def test_bare_quotation_ranks_after_reported_sentences() -> None:
    bare = '"The river flood is the worst the valley has seen in many decades of records."'
    text = flood_article(bare)
    assert bare not in [span.text for span in extract(text, "medium")]
