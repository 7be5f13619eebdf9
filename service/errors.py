"""Every HTTP error leaves through here, as the contract's JSON body (under /hf, as the
Hugging Face Inference API's: `{"error": "message", "error_type": code}`).

Each error class is one row of the contract's error table: its status, its code, when it
is answered (`when`, published in the OpenAPI document) and the headers it carries. The
document's error table and each operation's error responses are built from these
classes (service/openapi.py), so a code exists once.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import redis
from flask import Flask, Response, has_request_context, jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from service.context import settings

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
# Routes that speak the Hugging Face Inference API, errors included (service/routes/hf.py).
HF_PREFIX = "/hf/"
# A full queue drains at the workers' pace, minutes rather than seconds.
OVERLOADED_RETRY_AFTER_S = 30


class HttpError(Exception):
    """An error answer of the contract: status, machine-readable code, human message."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # When the API answers it, as the OpenAPI document says; "" for codes it leaves out.
    when: ClassVar[str] = ""
    # The headers that come with it (their values are set where it is raised).
    header_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "when" in cls.__dict__:  # its own row, not one inherited from a parent
            CATALOGUE.append(cls)


# Every documented error class, in the order they are defined below (by status).
CATALOGUE: list[type[HttpError]] = []


class ApiError(HttpError):
    """An error a view or a request hook raises, listed by the operations it can end."""


class InvalidJson(ApiError):
    status, code = 400, "invalid_json"
    when = "The body is not valid JSON: not UTF-8, a lone surrogate, or nested too deep."


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"
    when = "API keys are configured and no valid key was sent."
    header_names = ("WWW-Authenticate",)

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFound(ApiError):
    status, code = 404, "not_found"
    when = (
        "Unknown (or expired) id, or unknown route; on a POST, the job or batch "
        "that its Idempotency-Key created has expired; /hf: a model not served here."
    )


class MethodNotAllowed(HttpError):
    """Answered by the routing for any route, so documented once rather than per operation."""

    status, code = 405, "method_not_allowed"
    when = "The route exists, not with this method."
    header_names = ("Allow",)


class IdempotencyKeyInUse(ApiError):
    status, code = 409, "idempotency_key_in_use"
    when = "A request with this Idempotency-Key is still being handled."


class NotCancellable(ApiError):
    status, code = 409, "not_cancellable"
    when = "The job has already ended (succeeded, failed or cancelled)."


class JobCancelled(ApiError):
    status, code = 409, "cancelled"
    when = "/hf: the job was cancelled (DELETE /v1/summaries/<id>) before it ended."


class TextTooLong(ApiError):
    status, code = 413, "text_too_long"
    when = (
        "`text` (or a check's `summary`) over NUTGRAF_MAX_CHARS, or a body too large to "
        "read; /hf: an article over NUTGRAF_MAX_ARTICLE_TOKENS."
    )


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"
    when = (
        "A batch body over NUTGRAF_MAX_BODY_MB, or its extractive items over 5,000,000 characters."
    )


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"
    when = "The body is not `application/json`."


class InvalidRequest(ApiError):
    status, code = 422, "invalid_request"
    when = (
        "Missing, empty or wrong-typed field; a control character other than tab, newline or "
        "carriage return in `text` or `title` (refused, not stripped); unknown model, field "
        "or option; a refused callback_url."
    )


class IdempotencyKeyReused(ApiError):
    status, code = 422, "idempotency_key_reused"
    when = "This Idempotency-Key was used with a different body."


class SummarizationFailed(ApiError):
    status, code = 422, "summarization_failed"
    when = "/hf: the model could not summarize this article (its job failed)."


class RateLimited(ApiError):
    status, code = 429, "rate_limited"
    when = "Over NUTGRAF_RATE_LIMIT for this key (or address, without keys); see Retry-After."
    header_names = ("Retry-After",)

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})


class InternalError(ApiError):
    status, code = 500, "internal_error"
    when = "A bug; it has been logged."


class Unavailable(ApiError):
    status, code = 503, "unavailable"
    when = "Redis or the queue cannot be reached; see Retry-After."
    header_names = ("Retry-After",)

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_S)})


class ModelUnavailable(ApiError):
    status, code = 503, "model_unavailable"
    when = (
        "The workers report that the model cannot be loaded; the message says why and how "
        "to fix it (jobs already queued for it fail with the same message)."
    )


class Overloaded(ApiError):
    status, code = 503, "overloaded"
    when = "More jobs queued than NUTGRAF_MAX_QUEUE; see Retry-After."
    header_names = ("Retry-After",)

    def __init__(self, message: str, retry_after_s: int = OVERLOADED_RETRY_AFTER_S) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})


class NotReady(ApiError):
    status, code = 503, "not_ready"
    when = (
        "/hf: no worker runs, the model is loading, every wait slot is taken, the job was "
        "lost, or the summary was not ready within NUTGRAF_HF_WAIT_S; see Retry-After "
        "(and `estimated_time`)."
    )
    header_names = ("Retry-After",)

    def __init__(self, message: str, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})


# What Werkzeug raises before a view runs (unknown route, wrong method, body too large...),
# by status; HttpError itself is the plain 400 `bad_request`.
_WERKZEUG_ERRORS: dict[int, type[HttpError]] = {
    cls.status: cls
    for cls in (HttpError, NotFound, MethodNotAllowed, TextTooLong, UnsupportedMediaType)
}


def error_response(error: HttpError) -> Response:
    """The one JSON error body of the contract (HF's shape under /hf)."""
    return _json_error(error.status, error.code, error.message, error.headers)


def error_body(
    status: int, code: str, message: str, *, hf: bool, retry_after: str | None = None
) -> dict[str, Any]:
    """An error's JSON body: the contract's, or (`hf`) HF's, with `estimated_time` on a 503."""
    if not hf:
        return {"error": {"code": code, "message": message}}
    # huggingface_hub shows a string `error`; HF's 503s say when to try again.
    body: dict[str, Any] = {"error": message, "error_type": code}
    if status == 503:
        body["estimated_time"] = float(retry_after or RETRY_AFTER_S)
    return body


def _json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    hf = has_request_context() and request.path.startswith(HF_PREFIX)
    retry_after = (headers or {}).get("Retry-After")
    response = jsonify(error_body(status, code, message, hf=hf, retry_after=retry_after))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _from_werkzeug(exc: HTTPException) -> Response:
    status = exc.code or 500
    cls = _WERKZEUG_ERRORS.get(status)
    message = exc.description or exc.name
    headers = {}
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    if status == 413:
        message = _too_large_message()
        if request.path.startswith("/v1/batches"):
            cls = PayloadTooLarge
    if cls is None:  # a status the contract has no code for
        return _json_error(status, "http_error", message, headers)
    return error_response(cls(message, headers=headers))


def _too_large_message() -> str:
    """What a body refused for its size is told: the limit a person sets, in its own units."""
    length = request.content_length
    message = "request body" + (f" of {length} bytes" if length else "")
    message += " is larger than this service accepts"
    if request.max_content_length is not None:
        message += f" ({request.max_content_length} bytes)"
    if request.path.startswith("/v1/batches"):
        return message + f"; NUTGRAF_MAX_BODY_MB is {settings().max_body_mb}: split the batch"
    # The byte limit is derived from the character limit, the one people know and set.
    return message + f"; text may have at most {settings().max_chars} characters"


def register_error_handlers(app: Flask) -> None:
    """Install handlers so that no request, however malformed, sees HTML or a bare 500."""

    @app.errorhandler(HttpError)
    def _api_error(exc: HttpError) -> Response:
        return error_response(exc)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> Response:
        # service.security's on_breach builds the body with the exact Retry-After; this is
        # the fallback when the limiter could not (its storage failed mid-request).
        if isinstance(exc.response, Response):
            return exc.response
        return error_response(
            RateLimited(f"rate limit of {exc.description} exceeded", exc.limit.limit.get_expiry())
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _from_werkzeug(exc)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(exc: Exception) -> Response:
        log.warning("redis unavailable: %s", exc)
        return error_response(Unavailable("the job store is unreachable; try again shortly"))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(InternalError("internal error; it has been logged"))
