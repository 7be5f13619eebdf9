"""A bare Flask app with one JSON route, served by gunicorn exactly as the API is: the
ceiling of this framework and server on this machine, for the throughput benchmark.

    .venv/bin/python bench/bare_app.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from gunicorn.app.base import BaseApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nutgraf.settings import Settings
from service.server import gunicorn_options


def create_bare_app() -> Flask:
    """Flask with one route and nothing else: no middleware, metrics, logging or Redis."""
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app


class _Bare(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_bare_app()


if __name__ == "__main__":
    settings = Settings(port=int(sys.argv[1]), log_level="WARNING")
    _Bare(gunicorn_options(settings)).run()
