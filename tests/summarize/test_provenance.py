"""nutgraf.summarize.provenance: the article sentences that support each summary sentence."""

from __future__ import annotations

from pathlib import Path

from nutgraf.contract import SentenceSupport
from nutgraf.summarize.provenance import support_for

MONTENEGRO = (Path(__file__).parents[1] / "data" / "montenegro-nato.txt").read_text("utf-8")

HARBOUR = (
    "The city council of Portwell voted 7 to 2 on Tuesday to close the old harbour bridge. "
    "Engineers found cracks in three of the bridge's steel supports last month. "
    "Mayor Alice Brennan said the closure would last at least 18 months. "
    "A ferry service will carry commuters across the harbour while the bridge is rebuilt. "
    "Local shop owners fear the closure will cost them customers."
)


def texts(result: SentenceSupport) -> list[str]:
    return [span.text for span in result.support]


def assert_exact(results: list[SentenceSupport], article: str) -> None:
    for result in results:
        for span in result.support:
            assert article[span.start : span.end] == span.text


def test_a_paraphrased_sentence_finds_its_source() -> None:
    unit = "Alice Brennan, the mayor, expects the bridge to stay shut for 18 months or longer."
    [result] = support_for([unit], HARBOUR)
    assert result.text == unit
    assert texts(result) == ["Mayor Alice Brennan said the closure would last at least 18 months."]
    assert_exact([result], HARBOUR)


def test_a_fused_sentence_gets_both_sources() -> None:
    unit = "Portwell councillors voted 7 to 2 to shut the bridge after engineers found cracks."
    [result] = support_for([unit], HARBOUR)
    assert texts(result) == [
        "The city council of Portwell voted 7 to 2 on Tuesday to close the old harbour bridge.",
        "Engineers found cracks in three of the bridge's steel supports last month.",
    ]


def test_an_invented_sentence_gets_no_support() -> None:
    units = [
        "A ferry will carry commuters across the harbour during the rebuild.",
        "Prime Minister David Holt promised 40 million pounds for a new airport in Leeds.",
    ]
    ferry, invented = support_for(units, HARBOUR)
    assert len(ferry.support) == 1
    assert invented.support == []


def test_one_shared_common_word_is_not_support() -> None:
    [result] = support_for(["The weather on Tuesday was sunny and warm in the hills."], HARBOUR)
    assert result.support == []


def test_names_and_numbers_outweigh_common_words() -> None:
    article = (
        "The committee met on Monday to discuss the budget and the schools. "
        "Treasurer Omar Haddad proposed a budget of 12 million dollars."
    )
    [result] = support_for(["Omar Haddad wants 12 million for the committee's schools."], article)
    assert texts(result)[0] == "Treasurer Omar Haddad proposed a budget of 12 million dollars."


def test_offsets_are_exact_with_headings_and_odd_whitespace() -> None:
    article = (
        "# Bridge to close\n\n"
        "PORTWELL (Local News)\n\n"
        "The city council voted 7 to 2 on Tuesday to close the old harbour bridge.\r\n\r\n"
        "  Engineers found cracks in the steel supports.\tRepairs will take 18 months. \n"
    )
    results = support_for(
        ["The council voted 7-2 to close the bridge.", "Repairs take 18 months."],
        article,
        title="Bridge to close",
    )
    assert_exact(results, article)
    # The heading and dateline are not glued to the first sentence.
    assert texts(results[0]) == [
        "The city council voted 7 to 2 on Tuesday to close the old harbour bridge."
    ]
    assert texts(results[1]) == ["Repairs will take 18 months."]


def test_a_title_line_without_a_blank_line_stays_apart() -> None:
    article = "Portwell bridge to close\nThe city council voted on Tuesday to close the bridge."
    [result] = support_for(["The council voted to close the bridge."], article)
    assert texts(result) == ["The city council voted on Tuesday to close the bridge."]
    assert result.support[0].start == article.index("The city")


def test_title_words_need_no_article_span() -> None:
    # "Portwell" is only in the title: the rest of the sentence still finds its source.
    article = "The council voted on Tuesday to close the old harbour bridge for repairs."
    [result] = support_for(
        ["Portwell will close its harbour bridge."], article, title="Portwell news"
    )
    assert texts(result) == [article]


def test_offsets_count_code_points_with_emoji() -> None:
    article = "Fans cheered 🎉🎉 as the team won. Coach Dana Reyes praised the 11 players."
    [result] = support_for(["Dana Reyes praised her 11 players."], article)
    span = result.support[0]
    assert span.text == "Coach Dana Reyes praised the 11 players."
    assert span.start == article.index("Coach") and article[span.start : span.end] == span.text


def test_empty_article_and_empty_units() -> None:
    assert support_for(["Something happened."], "") == [
        SentenceSupport(text="Something happened.", support=[])
    ]
    assert support_for([], HARBOUR) == []


def test_a_real_article_supports_a_faithful_summary() -> None:
    units = [
        "NATO invited Montenegro to begin accession talks.",
        "Russia warned it would respond to the alliance's eastward expansion.",
    ]
    results = support_for(units, MONTENEGRO)
    assert_exact(results, MONTENEGRO)
    assert all(1 <= len(result.support) <= 3 for result in results)
    assert "Montenegro" in results[0].support[0].text
    assert "Russia" in results[1].support[0].text
