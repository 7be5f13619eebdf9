"""The Flask receiver of docs/webhooks.md, served on a loopback port, takes real deliveries
from an outbox signed with its secret (one of two, mid-rotation) and refuses them without
it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webhook_kit import SECRET, Box
from werkzeug.serving import make_server

from nutgraf.webhooks import new_secret

PAGE = Path(__file__).parents[2] / "docs/webhooks.md"


def page_flask_app(secret: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The Flask app of the webhooks page's receiver snippet, reading `secret` from its variable."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    [snippet] = [block for block in blocks if "@app.post" in block]
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {"__name__": "webhooks_page_receiver"}
    exec(compile(snippet, "docs/webhooks.md (Flask receiver)", "exec"), namespace)
    return namespace["app"]


@pytest.fixture()
def receiver_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The webhooks page's receiver, knowing only the test secret, on a free loopback port."""
    server = make_server("127.0.0.1", 0, page_flask_app(SECRET, monkeypatch), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/nutgraf"
    server.shutdown()
    thread.join()


def test_the_documented_flask_receiver_accepts_signed_deliveries(
    box: Box, receiver_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    box.outbox = box.another(webhook_secret=f"{new_secret()} {SECRET}")
    key = box.add("job", "flask", receiver_url)
    box.round()
    [attempt] = box.attempts(key)
    assert attempt["status_code"] == 204
    assert box.redis.hget(key, "callback_state") == "delivered"
    assert "job:flask Caf\u00e9 owners said yes." in capsys.readouterr().out


def test_the_documented_flask_receiver_refuses_other_secrets(box: Box, receiver_url: str) -> None:
    box.outbox = box.another(webhook_secret=new_secret())
    key = box.add("job", "forged", receiver_url)
    box.round()
    [attempt] = box.attempts(key)
    assert attempt["status_code"] == 401
    assert box.redis.hget(key, "callback_state") == "pending"  # retried later
