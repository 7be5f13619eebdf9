"""nutgraf.summarize.faithfulness.stitching: sentences stitched from different article
sentences into a claim none of them makes, on the sample article (tests/data).

The stitched sentences are the bundled model's own drafts of the sample article; the faithful
ones are its sentences, cut or joined where they may be.
"""

from __future__ import annotations

import pytest

from helpers import REPO
from nutgraf.contract import SummaryOptions
from nutgraf.summarize.faithfulness.stitching import ArticleWords, stitched_words
from nutgraf.summarize.verify import verify
from nutgraf.text import sentences

SAMPLE = (REPO / "tests" / "data" / "montenegro-nato.txt").read_text()


@pytest.fixture(scope="module")
def article() -> ArticleWords:
    return ArticleWords.of(SAMPLE)


@pytest.mark.parametrize(
    ("sentence", "fault"),
    [
        # The object swapped: the article invites Montenegro to join NATO, and only a byline
        # names the European Union.
        (
            "Montenegro has been given the green light to join the European Union, NATO, and "
            "the Balkans.",
            "the European Union NATO",
        ),
        # A list grown from two other sentences.
        (
            "The decision is likely to impact on the country's relations with Serbia, Moscow's "
            "leading ally in the Balkans, Georgia, and Eastern Europe.",
            "Georgia",
        ),
        # A number cut from its words and glued to others ("25 soldiers" in the article).
        ("Montenegro has 25 troops in Ukraine and Eastern Europe.", "25 troops"),
        # Three sentences' facts fused into one claim.
        (
            "Its army has 2,000 soldiers and the NATO invitation comes amid fears of increased "
            "Russian military activities and is likely to impact on the country's relations "
            "with Serbia.",
            " / ",
        ),
    ],
    ids=["swapped-object", "grown-list", "cut-number", "three-sentences"],
)
def test_a_stitched_sentence_is_caught_with_the_words_at_fault(
    article: ArticleWords, sentence: str, fault: str
) -> None:
    faults = stitched_words(sentence, article)
    assert faults, sentence
    assert any(fault in found for found in faults), faults


@pytest.mark.parametrize(
    "sentence",
    [
        # The article's own sentences, every one of them.
        *sentences(SAMPLE),
        # Cut: a clause dropped.
        "Montenegro, a Balkans country of just over 600,000 people, won its independence in 2006.",
        # Two sentences joined at a clause: each half is one sentence's.
        "Its army has 2,000 soldiers, and Bosnia and Herzegovina, Georgia, and the former "
        "Yugoslav republic of Macedonia are also making moves towards NATO membership.",
        # A name the story keeps coming back to, standing in for "he".
        "Stoltenberg added that NATO membership for Montenegro will strengthen the alliance.",
    ],
)
def test_the_article_s_sentences_cut_or_joined_at_a_clause_pass(
    article: ArticleWords, sentence: str
) -> None:
    assert stitched_words(sentence, article) == []


def test_a_stitched_draft_fails_verify_and_says_so() -> None:
    faithful = sentences(SAMPLE)[:3]
    medium = SummaryOptions(length="medium")
    assert verify(faithful, SAMPLE, None, medium).problem is None
    stitched = [
        *faithful[:2],
        "Montenegro has been given the green light to join the European Union, NATO, and "
        "the Balkans.",
    ]
    assert verify(stitched, SAMPLE, None, medium).problem == "stitched"
