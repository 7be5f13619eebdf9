"""The web page's "check my summary": a pasted summary checked through POST /v1/checks, each
sentence with its problems and its support highlighted in the article (real API, chromium)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

# The page's fixtures: the app served on loopback, headless chromium, a fresh page.
from test_web_page import base_url, browser, page  # noqa: F401

pytestmark = pytest.mark.integration

ARTICLE = (
    "The city council approved the new budget on Monday by a vote of 7 to 2.\n\n"
    "Mayor Ann Lee said the plan would raise spending on parks by 12%. "
    "No one opposed the plan at the public hearing."
)


def test_a_pasted_summary_shows_each_sentence_s_problems_and_support(
    page: Page,  # noqa: F811
    base_url: str,  # noqa: F811
) -> None:
    page.goto(base_url)
    page.fill("#text", ARTICLE)
    page.fill(
        "#check-summary",
        "The city council rejected the new budget on Monday. "
        "Mayor Ann Lee said the plan would raise spending on parks by 12%.",
    )
    with page.expect_response(
        lambda r: r.url == f"{base_url}/v1/checks" and r.request.method == "POST"
    ) as posted:
        page.click("#check")
    assert posted.value.status == 200
    expect(page.locator("#status")).to_have_attribute("data-status", "checked")
    expect(page.locator("#result-heading")).to_have_text("Your summary, checked")
    sentences = page.locator("#summary .sentence")
    expect(sentences).to_have_count(2)
    first = sentences.nth(0)
    expect(first).to_have_class("sentence flagged")
    flag = page.locator("#summary .flag.reversed")
    expect(flag).to_have_text("says the opposite of the article: rejected")
    assert flag.get_attribute("id") in (first.get_attribute("aria-describedby") or "")
    expect(page.locator("#summary .flag")).to_have_count(1)  # the second sentence passes
    expect(page.locator("#checks")).to_contain_text("say the opposite of what the article says")

    first.hover()
    marks = page.locator("#article mark")
    expect(marks).to_have_count(1)
    expect(marks.first).to_have_text(ARTICLE.split("\n")[0])


def test_a_faithful_summary_is_said_to_pass_and_an_empty_one_is_refused(
    page: Page,  # noqa: F811
    base_url: str,  # noqa: F811
) -> None:
    page.goto(base_url)
    page.fill("#text", ARTICLE)
    page.fill("#check-summary", "The council approved the budget on Monday.")
    page.click("#check")
    expect(page.locator("#status")).to_have_attribute("data-status", "checked")
    expect(page.locator("#checks")).to_have_class("ok")
    expect(page.locator("#summary .flag")).to_have_count(0)

    page.fill("#check-summary", "")
    page.click("#check")
    expect(page.locator("#error")).to_contain_text("invalid_request")
    # Summarize is the page's own again, heading included.
    expect(page.locator("#submit")).to_be_enabled()
