"""nutgraf.summarize.faithfulness: numbers and names a summary states that its article does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from nutgraf.summarize.faithfulness import unsupported_items

MONTENEGRO = (Path(__file__).parents[1] / "data" / "montenegro-nato.txt").read_text("utf-8")

# Built only from facts the article states, in other words.
FAITHFUL_SUMMARY = (
    "NATO invited Montenegro to begin accession talks, a decision Secretary General "
    "Jens Stoltenberg called historic. Russia warned it would respond to the alliance's "
    "expansion eastward. Montenegrin opposition leader Nebojsa Medojevic warned of a deep "
    "crisis. The Balkan country of just over 600,000 people won its independence in 2006 "
    "and has 2,000 soldiers, 25 of whom served in Afghanistan; all 28 NATO allies agreed. "
    "US Secretary of State John Kerry played down any threat to Russia. Premier Milo "
    "Djukanovic, now in his fourth term, first became Prime Minister in 1991."
)


def test_invented_number_is_flagged() -> None:
    article = "The council vote was 42 to 3 on Tuesday."
    assert unsupported_items("The vote was 45 to 3.", article) == ["45"]


def test_invented_name_is_flagged() -> None:
    article = "The minister said the budget vote passed 42 to 3 on Tuesday."
    summary = "Minister Jane Doe said the budget vote passed."
    assert unsupported_items(summary, article) == ["Minister Jane Doe"]


def test_faithful_paraphrase_passes() -> None:
    article = (
        "Secretary of State John Kerry said on Tuesday that the United States backs the bid "
        "by Montenegro to join the alliance. Economists expect growth of 5 percent, and 5 "
        "new members have joined since the talks began."
    )
    summary = (
        "The U.S. backs Montenegro's bid, Kerry said. Montenegrin officials expect five new "
        "members and 5% growth."
    )
    assert unsupported_items(summary, article) == []


@pytest.mark.parametrize(
    ("summary", "article"),
    [
        ("Three people died.", "Police said 3 people died."),
        ("3 people died.", "Police said three people died."),
        ("It was the 21st summit.", "It was summit number 21."),
        ("Sales hit 1,200 units.", "Sales hit 1200 units."),
        ("Growth was 5%.", "Growth was 5 percent."),
        ("Growth was 5 percent.", "Growth was 5 per cent."),
        ("Growth was 3.5%.", "Growth was 3.5 percentage points."),
        ("It cost 2.5 million euros.", "It cost 2,500,000 euros."),
        ("It cost $4 million.", "It cost 4 million dollars."),
        ("It cost £3m.", "It cost 3 million pounds."),
        ("It cost A$5bn.", "It cost 5 billion Australian dollars."),
        ("It cost twenty-five dollars.", "It cost 25 dollars."),
        ("Two hundred people came.", "Some 200 people came."),
        ("He began his fourth term.", "He began his 4th term."),
        ("He took office in 2006.", "He took office in 2006, aged 40."),
        ("One of the members left first.", "A member left early."),  # vague, not claims
    ],
)
def test_equal_numbers_are_supported(summary: str, article: str) -> None:
    assert unsupported_items(summary, article) == []


@pytest.mark.parametrize(
    ("summary", "article", "expected"),
    [
        ("The fund got $40 million.", "The fund got $4 million.", ["$40 million"]),
        ("The fund got $4 billion.", "The fund got $4 million.", ["$4 billion"]),
        ("The fund got $4 million.", "The fund got $4 on Monday.", ["$4 million"]),
        ("Growth was 5%.", "Growth hit 5 factories.", ["5%"]),
        ("Growth was 3.5 percent.", "Growth was 35 percent.", ["3.5 percent"]),
        ("Seven people died.", "Six people died.", ["Seven"]),
        ("It was the 21st summit.", "It was the 22nd summit.", ["21st"]),
        ("It happened in 2019.", "It happened in 2016.", ["2019"]),
    ],
)
def test_different_numbers_are_flagged(summary: str, article: str, expected: list[str]) -> None:
    assert unsupported_items(summary, article) == expected


@pytest.mark.parametrize(
    ("summary", "article"),
    [
        ("Kerry spoke.", "John Kerry spoke."),
        ("The U.S. agreed.", "The United States agreed."),
        ("The US agreed.", "The United States agreed."),
        ("The United States agreed.", "The U.S. agreed."),
        ("NATO met.", "The North Atlantic Treaty Organization met."),
        ("NATO met.", "The alliance, Nato, met."),
        ("Montenegro's bid passed.", "The bid by Montenegro passed."),
        ("Montenegrin officials cheered.", "Officials in Montenegro cheered."),
        ("The Russians objected.", "Russia objected."),
        ("Al-Assad spoke to O'Brien.", "Bashar al-Assad spoke to Mr. O'Brien."),
        ("The Bank of England raised rates.", "The Bank of England raised rates."),
        ("Dr. Jane Smith said so.", "Jane Smith said so."),
        ("Minister Igor Luksic said so.", "Foreign Minister Igor Luksic said so."),
        ("The NATO-led mission grew.", "The mission, led by NATO, grew."),
        ("Under-fire Premier Milo Djukanovic stayed.", "Milo Djukanovic stayed."),
        ("The ex-Soviet states worried.", "Former Soviet states worried."),
        (
            "\u201cThe vote was historic,\u201d Stoltenberg said.",
            "Stoltenberg said it was historic.",
        ),
        (
            "- NATO invited Montenegro\n- Russia objected",
            "NATO invited Montenegro; Russia objected.",
        ),
    ],
)
def test_supported_names(summary: str, article: str) -> None:
    assert unsupported_items(summary, article) == []


@pytest.mark.parametrize(
    ("summary", "article", "expected"),
    [
        (
            "Montenegrats officials cheered.",
            "Montenegro and Montenegrin officials cheered.",
            ["Montenegrats"],
        ),
        ("The Bank of Japan raised rates.", "The Bank of England raised rates.", ["Bank of Japan"]),
        ("Kerry flew to Paris on Monday.", "John Kerry flew to France.", ["Paris", "Monday"]),
        ("The EU agreed.", "The alliance agreed.", ["EU"]),
        ("The US agreed.", "They told us they agreed.", ["US"]),  # acronyms keep their case
        ("Jane Doe\u2019s aide spoke.", "An aide spoke.", ["Jane Doe"]),  # possessive dropped
        ("Sean O\u2019Malley spoke.", "Sean spoke.", ["Sean O\u2019Malley"]),  # summary's own text
    ],
)
def test_unsupported_names(summary: str, article: str, expected: list[str]) -> None:
    assert unsupported_items(summary, article) == expected


@pytest.mark.parametrize(
    "opener",
    [
        "The",
        "However,",
        "Meanwhile,",
        "But",
        "And",
        "After that,",
        "In short,",
        "It seems",
        "This",
        "These days,",
        "While",
        "When asked,",
        "Additionally,",
        "Overall,",
    ],
)
def test_sentence_initial_common_words_are_not_names(opener: str) -> None:
    summary = f"Officials met. {opener} the vote passed. He said: {opener} the vote passed."
    assert unsupported_items(summary, "The vote passed after officials met.") == []


def test_title_supports_the_summary() -> None:
    article = "The alliance invited the small Balkan country on Wednesday."
    summary = "NATO invited Montenegro on Wednesday."
    assert unsupported_items(summary, article) == ["NATO", "Montenegro"]
    assert unsupported_items(summary, article, title="NATO invites Montenegro") == []


def test_items_keep_summary_order_without_duplicates() -> None:
    summary = "Jane Doe counted 45 votes. Jane Doe then counted 45 more in Paris."
    article = "The clerk counted 42 votes."
    assert unsupported_items(summary, article) == ["Jane Doe", "45", "Paris"]


def test_real_article_faithful_summary_passes() -> None:
    assert unsupported_items(FAITHFUL_SUMMARY, MONTENEGRO) == []


def test_real_article_invented_facts_are_flagged() -> None:
    assert "2019" not in MONTENEGRO
    assert "Montenegrats" not in MONTENEGRO
    tampered = FAITHFUL_SUMMARY.replace("Montenegrin opposition", "Montenegrats opposition")
    tampered = tampered.replace("independence in 2006", "independence in 2019")
    assert tampered != FAITHFUL_SUMMARY
    assert unsupported_items(tampered, MONTENEGRO) == ["Montenegrats", "2019"]
