"""Client.check: POST /v1/checks, answered as the contract's CheckBody."""

from __future__ import annotations

import json

import httpx
import pytest

from nutgraf.client import Client, NutgrafError

ANSWER = {
    "sentences": [
        {
            "text": "The council rejected the budget.",
            "support": [{"text": "The council approved the budget.", "start": 0, "end": 32}],
            "problems": [{"kind": "reversed", "words": ["rejected"]}],
        }
    ],
    "problems": ["reversed"],
}


def test_check_posts_the_article_and_summary_and_parses_the_answer() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ANSWER)

    with Client("http://nutgraf.test", api_key="k", transport=httpx.MockTransport(answer)) as c:
        body = c.check("The council approved the budget.", "The council rejected the budget.")
    assert body.problems == ["reversed"]
    assert body.sentences[0].problems[0].words == ["rejected"]
    assert body.sentences[0].support[0].end == 32
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/checks")
    assert request.headers["Authorization"] == "Bearer k"
    # No title: left out of the body, for the server's default.
    assert json.loads(request.content) == {
        "text": "The council approved the budget.",
        "summary": "The council rejected the budget.",
    }


def test_a_refused_check_raises_with_the_contract_s_code() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        error = {"code": "text_too_long", "message": "summary has 9 characters; the limit is 5"}
        return httpx.Response(413, json={"error": error})

    with (
        Client("http://nutgraf.test", transport=httpx.MockTransport(refuse)) as client,
        pytest.raises(NutgrafError) as raised,
    ):
        client.check("Article.", "Too long.", title="T")
    assert raised.value.status == 413 and raised.value.code == "text_too_long"
