"""POST /v1/checks: any summary checked against its article, in the API process."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from nutgraf.contract import CheckBody
from nutgraf.settings import Settings
from service import create_app

ARTICLE = (
    "The city council approved the new budget on Monday by a vote of 7 to 2.\n\n"
    "Mayor Ann Lee said the plan would raise spending on parks by 12%. "
    "No one opposed the plan at the public hearing."
)
KEY = "checks-" + "k" * 32


def post(client: FlaskClient, body: Any, **kwargs: Any) -> Any:
    return client.post("/v1/checks", json=body, **kwargs)


def test_each_sentence_has_its_support_and_problems(client: FlaskClient) -> None:
    summary = (
        "The city council rejected the new budget on Monday. "
        "Mayor Ann Lee said the plan would raise spending on parks by 12%. "
        "Mayor Tom Hart said the plan would raise spending on parks by 40%."
    )
    response = post(client, {"text": ARTICLE, "summary": summary, "title": "Budget passes"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = CheckBody.model_validate(response.get_json())
    first, second, third = body.sentences
    assert first.text == "The city council rejected the new budget on Monday."
    assert [(p.kind, p.words) for p in first.problems] == [("reversed", ["rejected"])]
    assert [s.text for s in first.support] == [ARTICLE.split("\n")[0]]
    for span in first.support + second.support:
        assert ARTICLE[span.start : span.end] == span.text
    assert second.problems == [] and second.support
    assert [p.kind for p in third.problems] == ["unsupported"]
    words = third.problems[0].words
    assert any("Tom Hart" in word for word in words) and any("40" in word for word in words)
    assert body.problems == ["unsupported", "reversed"]


def test_a_faithful_summary_has_no_problems(client: FlaskClient) -> None:
    summary = "- The council approved the budget on Monday.\n- No one opposed the plan."
    body = post(client, {"text": ARTICLE, "summary": summary}).get_json()
    assert [s["text"] for s in body["sentences"]] == [
        "The council approved the budget on Monday.",
        "No one opposed the plan.",
    ]
    assert body["problems"] == []
    assert all(s["problems"] == [] for s in body["sentences"])


def test_talk_about_the_text_is_meta_talk(client: FlaskClient) -> None:
    body = post(client, {"text": ARTICLE, "summary": "This article is about a budget."})
    problems = body.get_json()["sentences"][0]["problems"]
    assert {"kind": "meta_talk", "words": ["This article"]} in problems


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ARTICLE}, 422, "invalid_request"),
        ({"text": ARTICLE, "summary": "  "}, 422, "invalid_request"),
        ({"text": ARTICLE, "summary": 5}, 422, "invalid_request"),
        ({"text": ARTICLE, "summary": "Fine.", "length": "short"}, 422, "invalid_request"),
        ({"text": "x" * 100_001, "summary": "Fine."}, 413, "text_too_long"),
        ({"text": ARTICLE, "summary": "x" * 100_001}, 413, "text_too_long"),
    ],
    ids=["no-summary", "blank", "not-a-string", "unknown-field", "long-text", "long-summary"],
)
def test_bad_input_is_a_contract_error(
    client: FlaskClient, body: dict[str, Any], status: int, code: str
) -> None:
    response = post(client, body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_not_json_is_refused(client: FlaskClient) -> None:
    response = client.post("/v1/checks", data="text", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_api_keys_apply(settings: Settings) -> None:
    client = create_app(settings.model_copy(update={"api_keys": [KEY]})).test_client()
    body = {"text": ARTICLE, "summary": "The council approved the budget."}
    assert post(client, body).status_code == 401
    answered = post(client, body, headers={"Authorization": f"Bearer {KEY}"})
    assert answered.status_code == 200


def test_it_is_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/v1/checks"]["post"]
    assert operation["tags"] == ["checks"]
    assert {"200", "413", "422"} <= set(operation["responses"])
    assert "CheckBody" in document["components"]["schemas"]
