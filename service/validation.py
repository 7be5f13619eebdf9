"""Reading and checking request bodies: JSON, the contract's models, the deployment's limits.

The order of the checks is the contract's: media type (415), JSON (400), then the article's
length (413) before the schema (422), so that a huge article is refused for its size.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from nutgraf.contract import SummaryRequest
from nutgraf.models.specs import EXTRACTIVE, ModelSpec, resolve
from nutgraf.settings import Settings
from nutgraf.webhooks import check_callback_url
from service.errors import InvalidJson, InvalidRequest, TextTooLong, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)
# What reading and validating a body can answer.
BODY_ERRORS = (InvalidJson, UnsupportedMediaType, InvalidRequest)


def read_json_object() -> dict[str, Any]:
    """The request body as a JSON object, or the contract's 415/400/422."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.mimetype or 'no content type'}"
        )
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJson(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidJson("the body is nested too deeply to be a request") from None
    _refuse_lone_surrogates(body)
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def _refuse_lone_surrogates(body: Any) -> None:
    """400 when a string holds a lone surrogate (JSON allows `\\ud800`; Unicode text
    does not, and Redis, logs and the model could not take it). Checked before anything
    is written, so a bad batch item cannot strand the items before it."""
    pending = [body]
    while pending:  # iterative: the body may be nested as deep as json.loads allows
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(value[exc.start])
                raise InvalidJson(
                    f"the body holds a lone surrogate (\\u{code:04x}) at character "
                    f"{exc.start} of a string; send Unicode text"
                ) from None


def ascii_int(value: str) -> int | None:
    """`value` as a whole number written in ASCII digits, else None (`str.isdigit` also
    takes "²" and "٣", which int() then refuses or reads as another number)."""
    value = value.strip()
    return int(value) if value.isascii() and value.isdecimal() else None


def validate(model: type[M], body: dict[str, Any]) -> M:
    """The body as `model`, or 422 with every problem named by its field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidRequest(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "body"
        if err["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown field")
        elif err["type"] == "missing":
            parts.append(f"{field}: required")
        else:
            parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def check_text_length(characters: int, settings: Settings) -> None:
    """Refuse an article over NUTGRAF_MAX_CHARS (413), naming both numbers."""
    if characters > settings.max_chars:
        raise TextTooLong(f"text has {characters} characters; the limit is {settings.max_chars}")


def served_spec(name: str, settings: Settings) -> ModelSpec | None:
    """The spec of a served model, found by its name or by what it resolves to."""
    for served in settings.models:
        spec = resolve(served, settings.model_revision)
        if name in (served, spec.name, spec.source):
            return spec
    return None


def check_model(name: str | None, settings: Settings) -> None:
    """Refuse a model this deployment does not serve (None: the default model)."""
    if name is not None and served_spec(name, settings) is None:
        served = ", ".join(settings.models)
        raise InvalidRequest(f"unknown model {name!r}; this service serves: {served}")


def spec_for(req: SummaryRequest, settings: Settings) -> ModelSpec:
    """The model a validated request runs on (extractive mode needs none)."""
    if req.mode == "extractive":
        return EXTRACTIVE
    served = served_spec(req.model or settings.model, settings)
    assert served is not None  # the default model is always served, others were checked
    return served


def model_failure(workers: list[dict[str, Any]], name: str) -> str | None:
    """Why no worker can run model `name`, as their heartbeats say; None while any has it
    loaded, is still starting, or has not tried it (and with no worker at all: jobs wait)."""
    states = [w.get("models", {}).get(name, {}) for w in workers]
    if any(s.get("state") == "ready" for s in states) or any(w.get("loading") for w in workers):
        return None
    errors = sorted({s["error"] for s in states if s.get("state") == "failed" and s.get("error")})
    return "; ".join(errors) or None


def check_callback(url: str | None, settings: Settings) -> None:
    """Refuse a callback_url the service could not, or must not, call."""
    if url is None:
        return
    if not settings.webhook_secret:
        raise InvalidRequest("callback_url needs NUTGRAF_WEBHOOK_SECRET set on the service")
    try:
        check_callback_url(url, allow_private=settings.webhook_allow_private)
    except ValueError as exc:
        raise InvalidRequest(f"callback_url: {exc}") from None
