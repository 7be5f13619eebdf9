"""Reversed claims: a summary sentence made of its article's words that says the opposite."""

from __future__ import annotations

import pytest

from nutgraf.summarize.faithfulness.polarity import reversed_words


@pytest.mark.parametrize(
    ("sentence", "support", "words"),
    [
        # A negation added, or taken away.
        ("The mayor did not approve the plan.", "The mayor approved the plan.", ["not", "approve"]),
        ("The driver was charged.", "The driver was not charged.", ["charged"]),
        ("The man has never been named.", "The man has been named by police.", ["never", "named"]),
        ("No evidence was found.", "Detectives found evidence at the farm.", ["No", "evidence"]),
        ("The shop didn't close.", "The shop closed on Friday.", ["not", "close"]),
        ("He left with a warning.", "He left without a warning.", ["warning"]),
        # An antonym, in any inflection.
        ("The council rejected the budget.", "The council approved the budget.", ["rejected"]),
        ("Shares fell sharply on Monday.", "Shares rose sharply on Monday.", ["fell"]),
        ("The Reds lost the final.", "The Reds won the final.", ["lost"]),
        ("The jury found him guilty.", "The jury acquitted him.", ["guilty"]),
        ("Sales are increasing fast.", "Sales are decreasing fast.", ["increasing"]),
        # A figure's direction.
        ("Nearly 40 people came.", "More than 40 people came.", ["40"]),
        ("Prices rose 5% in May.", "Prices fell 5% in May.", ["rose"]),
        # A figure moved to what the article counts with another.
        (
            "The blast killed 40 people and injured 12 others.",
            "The blast killed 12 people and injured 40 others.",
            ["40", "12"],
        ),
    ],
)
def test_a_reversed_claim_is_caught(sentence: str, support: str, words: list[str]) -> None:
    assert reversed_words(sentence, [support]) == words


@pytest.mark.parametrize(
    ("sentence", "support"),
    [
        # The same claim in other words, or with the negation on the same word.
        ("The man was not named.", "Police have not named the man."),
        ("He was found not guilty.", "The jury acquitted him; he was not guilty."),
        ("He was not guilty, the jury said.", "The jury acquitted him."),
        ("No one was hurt in the fire.", "Nobody was hurt when the fire started."),
        ("Police found no weapons.", "No weapons were found, police said."),
        ("She says no to the plan.", "She rejected the plan: no, she said."),
        ("Shares rose on Monday.", "Shares rose on Monday after falling on Friday."),
        ("The 34-year-old was jailed.", "Jones, 34, was jailed for 5 years."),
        ("Not only the players but the fans cheered.", "The players and the fans cheered."),
        ("More than 40 people came.", "Over 40 people came."),
        # A sentence nothing supports is another check's business (unsupported).
        ("The council rejected the budget.", ""),
    ],
)
def test_a_faithful_sentence_passes(sentence: str, support: str) -> None:
    assert reversed_words(sentence, [support] if support else []) == []


def test_the_article_elsewhere_saying_it_the_summary_s_way_clears_a_negation() -> None:
    support = ["Doctors should be trained to tell families."]
    article = [*support, "Doctors are really not trained to do it, he said."]
    assert reversed_words("Doctors are not trained to tell families.", support) == [
        "not",
        "trained",
    ]
    assert reversed_words("Doctors are not trained to tell families.", support, article) == []


def test_spelled_out_and_broken_contractions_are_negations() -> None:
    support = ["They can vote in May."]
    assert reversed_words("They can ' t vote in May.", support) == ["not", "vote"]
    assert reversed_words("They cannot vote in May.", support) == ["not", "vote"]
