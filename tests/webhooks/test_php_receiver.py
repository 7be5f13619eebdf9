"""The PHP receiver of docs/webhooks.md (the WordPress recipe's too) run under Debian's
php-cli against deliveries a real outbox signed and sent to a real receiver."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from webhook_kit import SECRET, Box, Receiver

from nutgraf.webhooks import new_secret, signed_headers

ROOT = Path(__file__).parents[2]
WEBHOOKS_PAGE = ROOT / "docs/webhooks.md"
# The function, from its comment to its closing brace at the start of a line.
FUNCTION = re.compile(r"^(?://[^\n]*\n)*function nutgraf_verify_webhook\(.*?^\}$", re.M | re.S)


def php_function(markdown: Path) -> str:
    """nutgraf_verify_webhook as a Markdown file shows it."""
    found = FUNCTION.search(markdown.read_text(encoding="utf-8"))
    assert found, f"no nutgraf_verify_webhook in {markdown}"
    return found.group(0)


def find_php() -> str:
    """Debian's php-cli, which `make install-test` installs."""
    found = shutil.which("php")
    if not found:
        pytest.fail(
            "no php found for the PHP receiver test: run `make install-test` "
            "(it installs Debian's php-cli)",
            pytrace=False,
        )
    return found


def php_verdicts(cases: list[dict[str, Any]]) -> list[bool]:
    """Run the webhooks page's function on each case (secret, headers, body) in one php process."""
    script = (
        "<?php\n"
        + php_function(WEBHOOKS_PAGE)
        + "\n$cases = json_decode(stream_get_contents(STDIN), true);\n"
        "foreach ($cases as $c) {\n"
        "    $h = $c['headers'];\n"
        "    echo nutgraf_verify_webhook($c['secret'], $h['webhook-id'],"
        " $h['webhook-timestamp'], $h['webhook-signature'], base64_decode($c['body']))"
        " ? '1' : '0';\n"
        "}\n"
    )
    for case in cases:
        case["body"] = base64.b64encode(case["body"]).decode()
    done = subprocess.run(
        [find_php(), "-d", "display_errors=stderr", "-r", script.removeprefix("<?php\n")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    return [verdict == "1" for verdict in done.stdout]


def test_the_wordpress_recipe_has_the_webhooks_page_function() -> None:
    assert php_function(ROOT / "docs/cms/wordpress.md") == php_function(WEBHOOKS_PAGE)


def test_the_php_receiver_accepts_real_deliveries_and_nothing_else(
    box: Box, receiver: Receiver
) -> None:
    # A deployment rotating from OLD to the test secret signs with both.
    old = new_secret()
    box.outbox = box.another(webhook_secret=f"{SECRET},{old}")
    box.add("job", "php", receiver.url)
    assert box.round() == 1
    [request] = receiver.requests
    assert "Caf\u00e9".encode() in request.body  # UTF-8 bytes, signed as sent
    headers = {name.lower(): value for name, value in request.headers.items()}
    body = request.body
    stale = signed_headers([SECRET], body, "job:php", int(time.time()) - 600)
    cases = [
        ({"secret": SECRET}, True),  # the new secret
        ({"secret": old}, True),  # a receiver still on the old one
        ({"secret": SECRET.rstrip("=")}, True),  # written without base64 padding
        ({"secret": new_secret()}, False),
        ({"body": body.replace(b"yes", b"no")}, False),
        ({"headers": {**headers, "webhook-id": "job:other"}}, False),
        ({"headers": {**headers, "webhook-timestamp": str(int(time.time()) + 1)}}, False),
        ({"headers": stale}, False),  # signed right, but 10 minutes old
        ({"headers": {**headers, "webhook-timestamp": "1e9"}}, False),
        ({"headers": {**headers, "webhook-signature": ""}}, False),
    ]
    inputs = [{"secret": SECRET, "headers": headers, "body": body, **case} for case, _ in cases]
    assert php_verdicts(inputs) == [expected for _, expected in cases]


@pytest.mark.parametrize("markdown", ["docs/webhooks.md", "docs/cms/wordpress.md"])
def test_the_php_snippets_parse(markdown: str, tmp_path: Path) -> None:
    blocks = re.findall(r"```php\n(.*?)```", (ROOT / markdown).read_text(encoding="utf-8"), re.S)
    assert blocks
    for number, block in enumerate(blocks):
        source = tmp_path / f"block{number}.php"
        source.write_text(block if block.startswith("<?php") else "<?php\n" + block)
        done = subprocess.run(
            [find_php(), "-l", str(source)], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"{markdown}, php block {number + 1}: {done.stdout}"
