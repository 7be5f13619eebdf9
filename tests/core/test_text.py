"""nutgraf.text: normalization for cache keys, sentence spans, clean summary endings."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from nutgraf.text import clean_summary, normalize, sentences, split_sentences


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("The  vote\n\npassed.", "The vote passed."),
        ("  The vote passed.\t", "The vote passed."),
        ("He said \u201cno\u201d.", 'He said "no".'),
        ("It\u2019s \u2018final\u2019.", "It's 'final'."),
        ("The\u00a0vote passed.", "The vote passed."),  # NFKC: no-break space
        ("\ufb01nal \uff21", "final A"),  # NFKC: ligature, full-width letter
    ],
)
def test_normalize_equal(left: str, right: str) -> None:
    assert normalize(left) == normalize(right)


def test_normalize_output() -> None:
    assert normalize(" \u201cIt\u2019s\u201d \n  done ") == '"It\'s" done'


def test_normalize_collapses_every_unicode_whitespace_like_the_regex() -> None:
    # Cache keys must not change: normalize() once used re.sub(r"\\s+", " ", ...).strip().
    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    text = f"{spaces}Budget{spaces}vote{spaces}\u00a0delayed.{spaces}"
    expected = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
    assert normalize(text) == expected == "Budget vote delayed."


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("The vote passed.", "The vote failed."),
        ("The vote passed.", "The vote passed!"),
        ("The vote passed.", "the vote passed."),  # case is kept
        ("rate 3.5", "rate 35"),
    ],
)
def test_normalize_different(left: str, right: str) -> None:
    assert normalize(left) != normalize(right)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith went to Washington. He met U.S. officials there.",
            ["Mr. Smith went to Washington.", "He met U.S. officials there."],
        ),
        (
            "Inflation rose 3.5 percent in May. Prices fell.",
            ["Inflation rose 3.5 percent in May.", "Prices fell."],
        ),
        (
            "Dr. Jones said the U.S. economy grew. Markets rallied!",
            ["Dr. Jones said the U.S. economy grew.", "Markets rallied!"],
        ),
        ("The U.S. Senate voted. It passed.", ["The U.S. Senate voted.", "It passed."]),
        (
            "Sen. Warren met Gov. Newsom on Jan. 5. They talked.",
            ["Sen. Warren met Gov. Newsom on Jan. 5.", "They talked."],
        ),
        ("John F. Kennedy spoke. He left.", ["John F. Kennedy spoke.", "He left."]),
        ("The U.S.-led coalition won. Yes.", ["The U.S.-led coalition won.", "Yes."]),
        ("Is it? Yes! It is\u2026 Maybe.", ["Is it?", "Yes!", "It is\u2026", "Maybe."]),
        (
            "He said \u201cit is over.\u201d Then he left.",
            ["He said \u201cit is over.\u201d", "Then he left."],
        ),
        ('"Go home." He left.', ['"Go home."', "He left."]),
        ("  Hello there.\n\nWorld news.  ", ["Hello there.", "World news."]),
        ("A fragment without an end", ["A fragment without an end"]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[start:end] for start, end in spans] == expected
    assert sentences(text) == expected
    for start, end in spans:
        sentence = text[start:end]
        assert sentence == sentence.strip()  # whitespace stays outside the spans
    ends = [end for _, end in spans]
    starts = [start for start, _ in spans]
    assert all(end <= nxt for end, nxt in zip(ends, starts[1:], strict=False))  # in order


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The vote passed. Turnout was high. The mayor", "The vote passed. Turnout was high."),
        (
            "The vote passed. The vote passed. Turnout was high.",
            "The vote passed. Turnout was high.",
        ),
        ("The vote passed.  The  vote passed.", "The vote passed."),  # repeats up to whitespace
        ("It rose.\n\nIt   fell.", "It rose. It fell."),
        ("a fragment without an end", "a fragment without an end."),
        ("a fragment that trails off,", "a fragment that trails off."),
        ('He said "yes." She', 'He said "yes."'),
        ("He asked \u201cwhy?\u201d Then", "He asked \u201cwhy?\u201d"),
        ("Mr. Smith met U.S. officials. The", "Mr. Smith met U.S. officials."),
        ("Already complete.", "Already complete."),
        ("", ""),
        ("   ", ""),
    ],
)
def test_clean_summary(text: str, expected: str) -> None:
    assert clean_summary(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She shouted 'never!' Then he", "She shouted 'never!'"),
        ("He asked \u2018why?\u2019 Then", "He asked \u2018why?\u2019"),
        ("It ended (finally.) Then", "It ended (finally.)"),
        ("He said 'no!' She said 'yes!' And", "He said 'no!' She said 'yes!'"),
    ],
)
def test_clean_summary_closing_quote_or_bracket(text: str, expected: str) -> None:
    """A sentence closed by a quote or bracket after ! ? or . is complete, not a fragment."""
    assert clean_summary(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("They voted no. The bill failed.", ["They voted no.", "The bill failed."]),
        ('He said "no." She left.', ['He said "no."', "She left."]),
    ],
)
def test_split_sentences_after_the_word_no(text: str, expected: list[str]) -> None:
    """The word "no" abbreviates only before a number, and never inside closing quotes."""
    assert sentences(text) == expected


def test_split_sentences_number_abbreviation() -> None:
    assert sentences("He ranked No. 5 in the world. Good.") == [
        "He ranked No. 5 in the world.",
        "Good.",
    ]
