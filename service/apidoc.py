"""What each route tells the OpenAPI document, declared beside the route itself.

A view carries an `Operation` (set by `@documented`); service/openapi.py walks the app's
registered routes and writes the document from them, so a route cannot exist undocumented
and a path, method or parameter is written once, in its `@blueprint.get(...)` line.

Why a small registry of our own rather than flask-openapi3 or spectree: both generate the
document by taking over request validation, and then answer a bad request with their own
422 body, while the contract has one error body for everything
(`{"error": {"code", "message"}}`), checks a request in a fixed order (media type, JSON,
size, schema, then the deployment's limits, each with its own status) and has behaviours
that those libraries do not model: `Prefer: wait` answered 200 or 202, Idempotency-Key
replays, a batch whose bad items fail alone. Here the pydantic models of nutgraf.contract
stay the validators, the error classes of service/errors.py stay the error table, and a
route only states what it answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from service.errors import HttpError

View = TypeVar("View", bound=Callable[..., Any])
# The attribute a view's Operation is kept under; None marks a route left out on purpose.
ATTRIBUTE = "openapi_operation"


@dataclass(frozen=True)
class Reply:
    """An answer of an operation: what it means, its body and the headers it carries."""

    description: str
    body: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()
    # Without a body model: the media type, described as a plain JSON object or string.
    media: str = "application/json"


@dataclass(frozen=True)
class Callback:
    """A POST this operation makes to the request's callback_url when its work ends."""

    name: str
    body: type[BaseModel]
    summary: str


@dataclass(frozen=True)
class Operation:
    """One operation of the document; the path and method come from the route."""

    summary: str
    tag: str
    replies: Mapping[int, Reply]
    # The errors this operation can end with (those of every /v1 call are added for it).
    errors: tuple[type[HttpError], ...] = ()
    description: str | None = None
    # Names of header and query parameters (components of the document).
    parameters: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    callbacks: tuple[Callback, ...] = ()
    # Defaults to the view function's name.
    operation_id: str | None = None


def documented(
    summary: str,
    tag: str,
    replies: Mapping[int, Reply],
    *,
    errors: tuple[type[HttpError], ...] = (),
    description: str | None = None,
    parameters: tuple[str, ...] = (),
    body: type[BaseModel] | None = None,
    callbacks: tuple[Callback, ...] = (),
    operation_id: str | None = None,
) -> Callable[[View], View]:
    """Attach the operation's description to a view (put it under the route decorator)."""
    operation = Operation(
        summary=summary,
        tag=tag,
        replies=replies,
        errors=errors,
        description=description,
        parameters=parameters,
        body=body,
        callbacks=callbacks,
        operation_id=operation_id,
    )

    def attach(view: View) -> View:
        setattr(view, ATTRIBUTE, operation)
        return view

    return attach


def undocumented(view: View) -> View:
    """Mark a route that is not part of the API (e.g. Swagger UI's own files)."""
    setattr(view, ATTRIBUTE, None)
    return view


def operation_of(view: Callable[..., Any]) -> Operation | None:
    """The view's Operation; None if marked undocumented; LookupError if it has neither."""
    if not hasattr(view, ATTRIBUTE):
        raise LookupError(f"{view.__module__}.{view.__name__} has no @documented operation")
    operation: Operation | None = getattr(view, ATTRIBUTE)
    return operation
