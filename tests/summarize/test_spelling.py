"""No seams: a summary's words spelled as its article spells them."""

from __future__ import annotations

import pytest

from nutgraf.summarize.spelling import Respeller, respell

ARTICLE = (
    "Voters in Ohio backed same-sex marriage on Tuesday. “We can’t wait,” said Ann Lee, "
    "a 34-year-old teacher.\n\nDewar launched the 'sustained attack' after a row in the "
    "U.S. over a father-of-two's debts. He went in to the shop (a bakery) at 9am."
)


@pytest.mark.parametrize(
    ("seamed", "spelled"),
    [
        ("Voters backed same- sex marriage .", "Voters backed same-sex marriage."),
        ('"We can \' t wait, " said Ann Lee.', "“We can’t wait,” said Ann Lee."),
        ("We ca n't wait.", "We can’t wait."),
        ("Ann Lee is a 34 - year - old teacher .", "Ann Lee is a 34-year-old teacher."),
        (
            "Dewar launched the'sustained attack ' after a row.",
            "Dewar launched the 'sustained attack' after a row.",
        ),
        ("It was in the U.S . on Tuesday.", "It was in the U.S. on Tuesday."),
        ("A father-of-two 's debts grew.", "A father-of-two's debts grew."),
        ("He went to the shop ( a bakery ) .", "He went to the shop (a bakery)."),
        ("We can't wait.", "We can’t wait."),
    ],
)
def test_a_seam_is_spelled_as_the_article_spells_it(seamed: str, spelled: str) -> None:
    assert respell(seamed, ARTICLE) == spelled


@pytest.mark.parametrize(
    "summary",
    [
        "Voters in Ohio backed same-sex marriage on Tuesday.",
        "He went into the shop.",  # the article's "in to" is not this summary's business
        "Ann Lee, 34, said voters can wait.",
        "The party's win - a surprise - came late.",  # a dash the article lacks stays
        "",
    ],
)
def test_text_without_a_seam_of_the_article_is_left_alone(summary: str) -> None:
    assert respell(summary, ARTICLE) == summary


def test_lines_stay_apart_and_one_reading_serves_many_sentences() -> None:
    respeller = Respeller(ARTICLE)
    assert respeller.respell("- same- sex marriage\n- a 34 - year - old teacher") == (
        "- same-sex marriage\n- a 34-year-old teacher"
    )
    assert respeller.respell("Ann Lee ca n't wait.") == "Ann Lee can’t wait."


def test_a_word_the_article_glues_only_to_another_word_is_not_glued() -> None:
    # "party'" of the article's "party's" is no match for "party ' said".
    article = "The party's leader spoke. Critics of the party said little."
    assert respell("The party ' said little.", article) == "The party ' said little."
