"""The web page at `/`: paste or drop an article and watch its summary job, no build step.

The page is one template plus a stylesheet and a script from service/static/, all served
by this blueprint; nothing is loaded from another origin (it works air-gapped).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from nutgraf.settings import Settings

web = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    # Its own URL path: the app (Flask("service")) already serves the same folder at /static.
    static_url_path="/static/web",
)

# Everything from this origin only: no CDN, no inline script, no framing by other sites.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@web.get("/")
def index() -> Response:
    """The summarizer page."""
    settings: Settings = current_app.extensions["nutgraf.settings"]
    html = render_template("index.html", max_chars=settings.max_chars)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
