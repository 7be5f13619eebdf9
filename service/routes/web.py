"""The web page at `/`: paste or drop an article and watch its summary job, no build step.

The page is one template plus a stylesheet and a script from service/static/, all served
by this blueprint; nothing is loaded from another origin (it works air-gapped).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, render_template

from service import context
from service.apidoc import Reply, documented

SERVICE_DIR = Path(__file__).resolve().parents[1]

web = Blueprint(
    "web",
    __name__,
    template_folder=str(SERVICE_DIR / "templates"),
    static_folder=str(SERVICE_DIR / "static"),
    # Its own URL path: the app (Flask("service")) already serves the same folder at /static.
    static_url_path="/static/web",
)

# Everything from this origin only: no CDN, no inline script, no framing by other sites.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE = "The summarizer web page"


@web.get("/")
@documented(PAGE, "docs", {200: Reply(PAGE, media="text/html")})
def web_page() -> Response:
    """The summarizer page."""
    html = render_template("index.html", max_chars=context.settings().max_chars)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
