"""POST /v1/checks: any summary checked against its article, in this process, no model."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from nutgraf.contract import CheckBody, CheckRequest
from nutgraf.summarize.checks import check_summary
from service import context
from service.apidoc import Reply, documented
from service.errors import TextTooLong
from service.validation import BODY_ERRORS, check_text_length, read_json_object, validate

checks = Blueprint("checks", __name__, url_prefix="/v1")


@checks.post("/checks")
@documented(
    "Check a summary",
    "checks",
    {200: Reply("Each summary sentence with its support and its problems.", CheckBody)},
    errors=(*BODY_ERRORS, TextTooLong),
    description="The checks the worker runs on a model's summary, for any summary: one an "
    "editor wrote, or another model's. Each sentence gets the article sentences that state "
    "it (`support`, offsets into `text`) and its problems, each with the words at fault: "
    "`unsupported` (names or numbers the article lacks), `reversed` (it says the opposite "
    "of its support: a negation, an antonym, a figure's direction or subject), `meta_talk` "
    "(talk about the text) and `off_topic` (few of the article's words). Lexical and "
    "without the model: answered at once, nothing is stored. `text` and `summary` are each "
    "held to NUTGRAF_MAX_CHARS.",
    body=CheckRequest,
)
def create_check() -> Response:
    """Check a summary against its article: each sentence's support and problems."""
    settings = context.settings()
    raw = read_json_object()
    for field in ("text", "summary"):
        value = raw.get(field)
        if isinstance(value, str):
            check_text_length(len(value), settings)
    req = validate(CheckRequest, raw)
    body = check_summary(req.text, req.summary, req.title)
    return jsonify(body.model_dump(mode="json"))
