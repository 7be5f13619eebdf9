"""The checks a model's summary must pass before an editor sees it."""

from __future__ import annotations

import pytest

from nutgraf.contract import SummaryOptions
from nutgraf.summarize.verify import article_word_share, meta_talk, verify

ARTICLE = (
    "Montenegro's parliament voted on Monday to join NATO, with 46 of 81 lawmakers in favour. "
    "Prime Minister Dusko Markovic called it a historic day. Protesters gathered outside the "
    "parliament building in Podgorica, demanding a referendum on membership. Russia has "
    "opposed the country's accession to the alliance. The vote ends years of debate."
)
GOOD = [
    "Montenegro's parliament voted on Monday to join NATO.",
    "Prime Minister Dusko Markovic called it a historic day.",
    "Protesters outside the parliament demanded a referendum.",
]
MEDIUM = SummaryOptions(length="medium")


def test_a_grounded_summary_of_the_right_length_passes() -> None:
    verdict = verify(GOOD, ARTICLE, None, MEDIUM)
    assert verdict.problem is None and verdict.unsupported == []


@pytest.mark.parametrize(
    ("units", "problem"),
    [
        ([], "empty"),
        (["This article is about a vote in Montenegro.", *GOOD[1:]], "meta_talk"),
        ([*GOOD[:2], "In summary, the vote ends years of debate."], "meta_talk"),
        (
            [
                "El parlamento votó el lunes a favor de la alianza.",
                "Los manifestantes pidieron una consulta popular.",
                "Rusia se opone a la adhesión del país.",
            ],
            "off_topic",
        ),
        (
            [
                "The spring fashion collection features bold colours and linen.",
                "Designers showed flowing dresses on the catwalk in Milan.",
                "Buyers praised the tailoring and the shoes.",
            ],
            "off_topic",
        ),
        ([*GOOD[:2], "John Kerry praised the vote of 52 lawmakers."], "unsupported"),
        ([*GOOD[:2], "Russia has supported the country's accession to the alliance."], "reversed"),
        (GOOD[:1], "length"),
        ([*GOOD, "Russia has opposed the accession.", "The vote ends years of debate."], "length"),
    ],
    ids=[
        "empty",
        "meta",
        "in-summary",
        "spanish",
        "other-story",
        "names",
        "reversed",
        "short",
        "long",
    ],
)
def test_each_failure_is_named(units: list[str], problem: str) -> None:
    assert verify(units, ARTICLE, None, MEDIUM).problem == problem


def test_the_unsupported_items_are_listed() -> None:
    units = [*GOOD[:2], "John Kerry praised the vote of 52 lawmakers."]
    assert verify(units, ARTICLE, None, MEDIUM).unsupported == ["John Kerry", "52"]


def test_words_the_article_uses_itself_are_not_meta_talk() -> None:
    article = "The article 5 clause of the treaty was invoked. It binds all members."
    assert not meta_talk("Members invoked the article 5 clause of the treaty.", article)
    assert meta_talk("The article says members invoked a clause.", "Members invoked a clause.")


def test_a_word_cap_excuses_too_few_sentences() -> None:
    capped = SummaryOptions(length="medium", max_words=15)
    assert verify(GOOD[:1], ARTICLE, None, capped).problem is None


def test_inflections_count_as_the_article_s_words() -> None:
    assert article_word_share("Protesting lawmakers voted.", ARTICLE) == 1.0
    assert article_word_share("Zebras danced.", ARTICLE) == 0.0
