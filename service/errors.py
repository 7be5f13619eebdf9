"""Every HTTP error leaves through here, as the contract's JSON body."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify, request
from flask_limiter import RateLimitExceeded
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
# A full queue drains at the workers' pace, minutes rather than seconds.
OVERLOADED_RETRY_AFTER_S = 30


class ApiError(Exception):
    """An error the client can act on: status, machine-readable code, human message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidJson(ApiError):
    status, code = 400, "invalid_json"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class InvalidRequest(ApiError):
    status, code = 422, "invalid_request"


class TextTooLong(ApiError):
    status, code = 413, "text_too_long"


class NotFound(ApiError):
    status, code = 404, "not_found"


class NotCancellable(ApiError):
    status, code = 409, "not_cancellable"


class IdempotencyKeyInUse(ApiError):
    status, code = 409, "idempotency_key_in_use"


class IdempotencyKeyReused(ApiError):
    status, code = 422, "idempotency_key_reused"


class Unavailable(ApiError):
    status, code = 503, "unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_S)})


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})


class Overloaded(ApiError):
    status, code = 503, "overloaded"

    def __init__(self, message: str, retry_after_s: int = OVERLOADED_RETRY_AFTER_S) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_s))})


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The one JSON error body of the contract."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Codes for errors Werkzeug raises before a view runs (unknown route, wrong method...).
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "text_too_long",
    415: "unsupported_media_type",
}


def register_error_handlers(app: Flask) -> None:
    """Install handlers so that no request, however malformed, sees HTML or a bare 500."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded) -> Response:
        # service.security's on_breach builds the body with the exact Retry-After; this is
        # the fallback when the limiter could not (its storage failed mid-request).
        if isinstance(exc.response, Response):
            return exc.response
        error = RateLimited(
            f"rate limit of {exc.description} exceeded", exc.limit.limit.get_expiry()
        )
        return error_response(error.status, error.code, error.message, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        headers = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        message = exc.description or exc.name
        if status == 413:
            message = "request body is larger than this service accepts"
            if request.max_content_length is not None:
                message += f" ({request.max_content_length} bytes)"
            if request.path.startswith("/v1/batches"):
                code = "payload_too_large"
        return error_response(status, code, message, headers)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(exc: Exception) -> Response:
        log.warning("redis unavailable: %s", exc)
        return error_response(
            503,
            "unavailable",
            "the job store is unreachable; try again shortly",
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; it has been logged")
