"""Import boundaries: the core stays free of flask/celery, the API free of the model stack."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter at the repository root and return its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_core_imports_no_web_queue_or_model_stack() -> None:
    code = (
        "import nutgraf.engine, nutgraf.jobs, nutgraf.models, nutgraf.settings, nutgraf.text, "
        "nutgraf.contract, nutgraf.redis_server, nutgraf.cli; import sys; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'flask','celery','torch','transformers'}))"
    )
    assert ast.literal_eval(run_python(code).strip()) == []


def test_api_imports_no_model_stack() -> None:
    code = (
        "from service import create_app; from nutgraf.settings import Settings; "
        "create_app(Settings(redis_url='redis://127.0.0.1:1/0')); import sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch','transformers'}))"
    )
    assert ast.literal_eval(run_python(code).strip()) == []
