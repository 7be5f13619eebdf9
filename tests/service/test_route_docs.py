"""The OpenAPI builder walks the routes: an undocumented route fails the build; the error
table comes from the error classes, and each class sets the headers it declares."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from nutgraf.models.auto import settle
from nutgraf.settings import Settings
from service import context, errors
from service.apidoc import Reply, documented, undocumented
from service.openapi import build_document
from service.routes import register_routes


def routes_app() -> Flask:
    """The API's routes on a bare app with default settings (nothing else: no store)."""
    app = Flask("service")
    # Settled, as create_app does: NUTGRAF_MODEL=auto stands for a real model.
    app.extensions[context.SETTINGS] = settle(Settings())
    register_routes(app)
    return app


def test_a_route_without_an_operation_fails_the_build() -> None:
    app = routes_app()

    @app.get("/v1/secret")
    def secret() -> str:
        return "hidden"

    with pytest.raises(LookupError, match="secret"):
        build_document(app)


def test_documented_and_undocumented_routes() -> None:
    app = routes_app()

    @app.get("/v1/extra/<batch_id>")
    @documented("Extra", "batches", {200: Reply("Extra.")}, errors=(errors.NotCancellable,))
    def extra(batch_id: str) -> str:
        return batch_id

    @app.get("/internal")
    @undocumented
    def internal() -> str:
        return "internal"

    document = build_document(app)
    assert "/internal" not in document["paths"]
    item = document["paths"]["/v1/extra/{batch_id}"]
    assert item["parameters"] == [{"$ref": "#/components/parameters/BatchId"}]
    operation = item["get"]
    assert operation["operationId"] == "extra"
    # The errors of every /v1 call are added to the route's own.
    assert set(operation["responses"]) == {"200", "401", "409", "429", "500"}
    assert operation["security"] == [{"bearerAuth": []}, {}]


def test_a_path_variable_needs_a_parameter_component() -> None:
    app = routes_app()

    @app.get("/v1/things/<thing_id>")
    @documented("Thing", "models", {200: Reply("A thing.")})
    def thing(thing_id: str) -> str:
        return thing_id

    with pytest.raises(LookupError, match="ThingId"):
        build_document(app)


def test_the_error_table_is_the_error_classes() -> None:
    document = build_document(routes_app())
    table = document["info"]["description"].split("| --- | --- | --- |\n")[1]
    rows = [line.split(" | ") for line in table.strip().splitlines()]
    assert [(int(r[0].strip("| ")), r[1].strip("`")) for r in rows] == [
        (cls.status, cls.code) for cls in errors.CATALOGUE
    ]
    statuses = [cls.status for cls in errors.CATALOGUE]
    assert statuses == sorted(statuses)
    codes = [cls.code for cls in errors.CATALOGUE]
    assert len(codes) == len(set(codes))


def instances() -> list[errors.HttpError]:
    """One instance of every documented error class, built as the API builds it."""
    built: list[errors.HttpError] = []
    for cls in errors.CATALOGUE:
        arguments: dict[str, Any] = {"retry_after_s": 7} if cls is errors.RateLimited else {}
        built.append(cls("message", **arguments))
    return built


@pytest.mark.parametrize("error", instances(), ids=lambda e: e.code)
def test_each_error_sets_the_headers_it_documents(error: errors.HttpError) -> None:
    if isinstance(error, errors.MethodNotAllowed):
        return  # Allow is the route's methods, set where Werkzeug raises it
    assert set(error.headers) == set(error.header_names)
