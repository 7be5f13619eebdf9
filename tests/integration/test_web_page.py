"""The web page at `/`, driven in a real headless chromium against the real API and worker."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from werkzeug.serving import make_server

from helpers import TEST_MODEL, WorkerProcess

# No GPU, no sandbox (containers), nothing that phones home from a test run.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# An upper bound, not a wait: beam search over a whole article takes ~30 s on 2 idle cores.
SUMMARY_TIMEOUT_MS = 300_000
FINAL_STATES = ("succeeded", "failed", "cancelled", "error")
# The states the page shows, in the only order they may appear.
STATE_ORDER = ["sending", "queued", "running", "succeeded"]

# Records every change of #status's state with whether the progress bar was visible then.
RECORD_STATES = """() => {
  window.seenStates = [];
  const status = document.getElementById("status");
  const progress = document.getElementById("progress");
  new MutationObserver(() => {
    const seen = window.seenStates;
    const now = [status.dataset.status, !progress.hidden];
    const last = seen[seen.length - 1];
    if (!last || last[0] !== now[0] || last[1] !== now[1]) seen.push(now);
  }).observe(status, {attributes: true, attributeFilter: ["data-status"]});
}"""
IS_FINISHED = f"""() => {list(FINAL_STATES)!r}.includes(
  document.getElementById("status").dataset.status)"""


def find_chromium() -> str:
    """Debian's chromium (or NUTGRAF_TEST_CHROMIUM); never a browser Playwright downloads."""
    configured = os.environ.get("NUTGRAF_TEST_CHROMIUM")
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"NUTGRAF_TEST_CHROMIUM={configured} does not exist", pytrace=False)
        return configured
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "no chromium found for the web page tests: run `make install-test` "
            "(it installs Debian's chromium), or set NUTGRAF_TEST_CHROMIUM to a chromium binary",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    """The app in a real HTTP server on a free loopback port (a browser needs a URL)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="web-page-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium, launched from the system binary."""
    executable = find_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context (own localStorage); fails the test on a script error or on
    any request that leaves the service's origin (the page must need no CDN)."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    script_errors: list[str] = []
    foreign: list[str] = []

    def only_this_origin(route: Route) -> None:
        if route.request.url.startswith(base_url + "/"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_origin)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    opened.on("pageerror", lambda exc: script_errors.append(str(exc)))
    yield opened
    context.close()
    assert not script_errors, f"the page raised: {script_errors}"
    assert not foreign, f"the page requested other origins: {foreign}"


def _summarize_in_page(page: Page, base_url: str, worker: WorkerProcess) -> dict[str, Any]:
    """Click Summarize, wait (bounded) for a final state; the job as the API returns it."""
    page.evaluate(RECORD_STATES)
    with page.expect_response(
        lambda r: r.url == f"{base_url}/v1/summaries" and r.request.method == "POST"
    ) as posted:
        page.click("#submit")
    request_headers = posted.value.request.headers
    assert request_headers["content-type"] == "application/json"
    assert request_headers["prefer"] == "wait=2"
    assert "authorization" not in request_headers  # no key typed, none sent
    job_id = posted.value.json()["id"]
    page.wait_for_function(IS_FINISHED, timeout=SUMMARY_TIMEOUT_MS, polling=250)
    state = page.get_attribute("#status", "data-status")
    error_text = page.inner_text("#error") if page.is_visible("#error") else ""
    assert state == "succeeded", f"{state}: {error_text}\n{worker.log_tail()}"
    job: dict[str, Any] = requests.get(f"{base_url}/v1/summaries/{job_id}", timeout=10).json()
    assert job["status"] == "succeeded"
    return job


def _assert_states_progressed(page: Page) -> None:
    """#status went sending -> (queued) -> (running) -> succeeded, the bar shown throughout."""
    seen = page.evaluate("window.seenStates")
    states = [s for s, _ in seen]
    assert states[0] == "sending" and states[-1] == "succeeded", seen
    order = [STATE_ORDER.index(s) for s in states]
    assert order == sorted(order), seen
    assert all(visible for _, visible in seen), seen


def test_page_and_static_files_are_served(client: FlaskClient) -> None:
    with client.get("/") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        html = response.get_data(as_text=True)
    for element_id in ("text", "title", "length", "format", "api-key", "submit", "status"):
        assert f'id="{element_id}"' in html
    for element_id in ("summary", "checks", "error", "progress", "mode", "article", "fallback"):
        assert f'id="{element_id}"' in html
    assert "http://" not in html and "https://" not in html  # nothing from another origin
    assets = dict.fromkeys(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    assert {Path(a).name for a in assets} == {"app.js", "style.css"}
    content_types = {".js": {"text/javascript", "application/javascript"}, ".css": {"text/css"}}
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            assert response.mimetype in content_types[Path(asset).suffix], response.mimetype
            assert response.get_data()
    with client.get("/static/web/missing.js") as response:
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_summary_with_progress_and_checks(
    page: Page, base_url: str, worker: WorkerProcess, sample_article: str, tmp_path: Path
) -> None:
    page.goto(base_url)
    expect(page).to_have_title(re.compile("nutgraf"))
    # A title of its own keeps this a real model run even after other tests cached the text.
    page.fill("#title", "Montenegro joins NATO (web page test)")
    page.fill("#text", sample_article)
    page.select_option("#length", "short")
    expect(page.locator("#count")).to_have_text(f"{len(sample_article):,}")

    job = _summarize_in_page(page, base_url, worker)

    _assert_states_progressed(page)
    expect(page.locator("#status")).to_have_text(re.compile(r"^succeeded · \d+ s$"))
    if job["provenance"]:
        shown = page.locator("#summary .sentence").all_text_contents()
        assert shown == [sentence["text"] for sentence in job["provenance"]]
    else:
        shown_text = page.inner_text("#summary").strip()
        assert shown_text and shown_text == job["summary"].strip()
    assert page.locator("#summary ul").count() == 0  # paragraph format
    expect(page.locator("#checks")).to_be_visible()
    checks_text = page.inner_text("#checks")
    unsupported = job["checks"]["unsupported"]
    if unsupported:
        assert "not found in the article" in checks_text
        assert page.get_attribute("#checks", "class") == "warning"
        assert all(item in checks_text for item in unsupported)
    else:
        assert "no unsupported names or numbers found" in checks_text
    meta = page.inner_text("#meta")
    assert TEST_MODEL in meta and "Cached\nno" in meta
    assert f"{job['input']['tokens']:,} tokens" in meta
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#submit")).to_be_enabled()

    shots = Path(os.environ.get("NUTGRAF_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "web-page-summary.png"), full_page=True)


def test_bullets_are_shown_as_a_list(
    page: Page, base_url: str, worker: WorkerProcess, sample_article: str
) -> None:
    page.goto(base_url)
    page.fill("#text", "\n\n".join(sample_article.split("\n\n")[:2]))
    page.select_option("#length", "short")
    page.select_option("#format", "bullets")

    job = _summarize_in_page(page, base_url, worker)

    items = page.locator("#summary ul > li")
    expect(items).to_have_count(len(job["bullets"]))
    assert items.all_inner_texts() == job["bullets"]
    expect(page.locator("#checks")).to_be_visible()


def test_api_error_is_shown_and_the_key_is_sent_and_kept(page: Page, base_url: str) -> None:
    page.goto(base_url)
    page.fill("#api-key", "page-test-key")
    page.locator("#api-key").dispatch_event("change")
    with page.expect_request(f"{base_url}/v1/summaries") as sent:
        page.click("#submit")  # the text is empty: the API refuses it
    assert sent.value.headers["authorization"] == "Bearer page-test-key"

    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Error 422 (invalid_request)")
    expect(error).to_contain_text("text")
    expect(page.locator("#status")).to_have_attribute("data-status", "error")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#submit")).to_be_enabled()

    page.reload()
    expect(page.locator("#api-key")).to_have_value("page-test-key")
    page.fill("#api-key", "")
    page.locator("#api-key").dispatch_event("change")
    page.reload()
    expect(page.locator("#api-key")).to_have_value("")


def test_dropping_a_text_file_fills_the_article(page: Page, base_url: str) -> None:
    page.goto(base_url)

    def drop(name: str, content: str, mime: str) -> None:
        files = page.evaluate_handle(
            """([name, content, mime]) => {
              const data = new DataTransfer();
              data.items.add(new File([content], name, {type: mime}));
              return data;
            }""",
            [name, content, mime],
        )
        page.dispatch_event("#text", "drop", {"dataTransfer": files})

    drop("article.txt", "Dropped article.\nSecond line.", "text/plain")
    expect(page.locator("#text")).to_have_value("Dropped article.\nSecond line.")
    expect(page.locator("#count")).to_have_text("29")

    drop("photo.png", "not text", "image/png")
    expect(page.locator("#error")).to_contain_text("not a plain-text file")
    expect(page.locator("#text")).to_have_value("Dropped article.\nSecond line.")


# Text before the article's first sentence: a heading the summary skips, with emoji, which
# are one code point (a Python offset) but two UTF-16 units (a JS string index) each.
EMOJI_HEADING = "🎉 Montenegro invited 🎉\n\n"
MARK_OFFSETS = """() => Array.from(document.querySelectorAll("#article mark"), (mark) => {
  const before = document.createRange();
  before.setStart(document.getElementById("article"), 0);
  before.setEndBefore(mark);
  return [before.toString().length, mark.textContent];
})"""
MARK_IN_BOX = """() => {
  const box = document.getElementById("article").getBoundingClientRect();
  const mark = document.querySelector("#article mark").getBoundingClientRect();
  return mark.top >= box.top && mark.bottom <= box.bottom;
}"""


def js_index(text: str, offset: int) -> int:
    """A Python (code point) offset into `text` as a JS (UTF-16 unit) index."""
    return len(text[:offset].encode("utf-16-le")) // 2


def test_extractive_sentences_highlight_their_source(
    page: Page, base_url: str, sample_article: str
) -> None:
    article = EMOJI_HEADING + sample_article
    page.goto(base_url)
    expect(page.locator("#model-note")).to_contain_text("small bundled model (smollm2-135m)")
    page.fill("#text", article)
    page.select_option("#mode", "extractive")
    with page.expect_response(
        lambda r: r.url == f"{base_url}/v1/summaries" and r.request.method == "POST"
    ) as posted:
        page.click("#submit")
    assert posted.value.request.post_data_json["mode"] == "extractive"
    job = posted.value.json()
    assert job["status"] == "succeeded"  # extractive mode answers at once, no worker
    expect(page.locator("#status")).to_have_attribute("data-status", "succeeded")
    assert "small bundled model" not in page.inner_text("#meta")  # the extractive "model"

    sentences = page.locator("#summary .sentence")
    expect(sentences).to_have_count(len(job["provenance"]))
    assert page.locator("#article").text_content() == article
    assert page.locator("#summary .flag").count() == 0
    for index, sentence in enumerate(job["provenance"]):
        [span] = sentence["support"]
        # Hover with the mouse and focus with the keyboard both highlight.
        if index % 2:
            sentences.nth(index).focus()
        else:
            sentences.nth(index).hover()
        expect(sentences.nth(index)).to_have_class(re.compile(r"\bactive\b"))
        expect(page.locator("#article mark")).to_have_count(1)
        marks = page.evaluate(MARK_OFFSETS)
        assert marks == [[js_index(article, span["start"]), span["text"]]]
        assert page.evaluate(MARK_IN_BOX), "the highlight is scrolled into the article box"
    # Highlighting never alters the article's text.
    assert page.locator("#article").text_content() == article


def test_unsupported_sentences_and_fallback_are_said_plainly(page: Page, base_url: str) -> None:
    # The same sentence twice: the highlight must be at the offsets, not the first match.
    article = (
        "😀 Bridge news 😀\n\n"
        "The mayor opened the bridge. Crowds cheered. The mayor opened the bridge."
    )
    start = article.rindex("The mayor")
    stated = "The mayor opened the bridge."
    job = {
        "id": "j-fake",
        "status": "succeeded",
        "summary": f"{stated} Aliens landed on it.",
        "bullets": None,
        "sentences": None,
        "checks": {
            "unsupported": [],
            "regenerated": False,
            "fallback": True,
            "fallback_reason": "unsupported",
        },
        "provenance": [
            {
                "text": stated,
                "support": [{"text": stated, "start": start, "end": start + len(stated)}],
            },
            {"text": "Aliens landed on it.", "support": []},
        ],
        "model": {"name": "extractive", "revision": "scorer-lr-2"},
        "options": {"length": "short", "mode": "abstractive"},
        "cached": False,
        "created_at": "2025-01-01T00:00:00Z",
        "completed_at": "2025-01-01T00:00:01Z",
        "input": {"characters": len(article), "tokens": None, "chunks": 1, "truncated": False},
        "output": None,
        "error": None,
        "callback": None,
    }
    page.route(
        f"{base_url}/v1/summaries",
        lambda route: route.fulfill(status=201, json=job),
    )
    page.goto(base_url)
    page.fill("#text", article)
    page.click("#submit")
    expect(page.locator("#status")).to_have_attribute("data-status", "succeeded")

    fallback = page.locator("#fallback")
    expect(fallback).to_be_visible()
    expect(fallback).to_contain_text("The model's summary failed its checks")
    expect(fallback).to_contain_text("names or numbers the article does not")
    sentences = page.locator("#summary .sentence")
    expect(sentences).to_have_count(2)
    expect(page.locator("#summary .flag")).to_have_count(1)
    expect(page.locator("#summary .flag")).to_have_text("not found in the article")
    expect(sentences.nth(1)).to_have_class(re.compile(r"\bunsupported\b"))
    expect(sentences.nth(0)).not_to_have_class(re.compile(r"\bunsupported\b"))

    sentences.nth(0).click()  # a tap
    expect(page.locator("#article mark")).to_have_count(1)
    assert page.evaluate(MARK_OFFSETS) == [[js_index(article, start), stated]]
    sentences.nth(1).focus()
    expect(page.locator("#article mark")).to_have_count(0)
    assert page.locator("#article").text_content() == article


def test_a_queued_job_shows_its_place_and_eta(page: Page, base_url: str) -> None:
    queued = {
        "id": "j-queued",
        "status": "queued",
        "summary": None,
        "bullets": None,
        "sentences": None,
        "checks": None,
        "provenance": None,
        "model": {"name": "smollm2-135m", "revision": "r"},
        "options": {"length": "short"},
        "cached": False,
        "created_at": "2025-01-01T00:00:00Z",
        "completed_at": None,
        "input": {"characters": 20},
        "output": None,
        "error": None,
        "callback": None,
        "priority": "interactive",
        "ref": None,
        "queue": {"lane": "interactive", "position": 3, "eta_s": 41.6},
    }
    page.route(f"{base_url}/v1/summaries", lambda route: route.fulfill(status=202, json=queued))
    page.route(
        f"{base_url}/v1/summaries/j-queued", lambda route: route.fulfill(status=200, json=queued)
    )
    page.goto(base_url)
    page.fill("#text", "The council voted on the budget.")
    page.click("#submit")
    expect(page.locator("#status")).to_have_text(
        re.compile(r"^queued · #3 in the interactive lane · about 42 s · \d+ s$")
    )
