"""The generated parts of docs/: the settings table from nutgraf.settings.Settings and the
error table from service.errors.CATALOGUE, so that each fact is written once.

`make docs` (`python -m service.reference`) rewrites them between their markers;
`--check` only says which pages are stale, as tests/service/test_reference.py does. It
lives in service/, beside the OpenAPI document built from the same catalogue, because the
core (nutgraf/) may not import the Flask side that the error classes belong to.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic.fields import FieldInfo

from nutgraf.settings import Settings
from service.errors import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- BEGIN GENERATED {name}: `make docs` writes this part, do not edit it -->"
END = "<!-- END GENERATED {name} -->"
DAY_S, HOUR_S = 86400, 3600


def _cell(text: str) -> str:
    """`text` as a Markdown table cell: pipes escaped, and <...> outside code shown as text
    (GitHub drops what looks like an HTML tag, such as `<id>` in a path)."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):  # the even parts are outside backticks
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _default(field: FieldInfo, name: str) -> str:
    """A setting's default as the docs show it: the value a variable would hold."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    factory = field.default_factory
    value = field.default if factory is None else factory()  # type: ignore[call-arg]
    if value is None or value == "" or value == []:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    shown = f"`{value}`"
    if isinstance(value, int) and name.endswith("_s") and value >= HOUR_S:
        if value % DAY_S == 0:
            days = value // DAY_S
            shown += f" ({days} day{'s' * (days > 1)})"
        elif value % HOUR_S == 0:
            hours = value // HOUR_S
            shown += f" ({hours} hour{'s' * (hours > 1)})"
    return shown


def settings_table() -> str:
    """Every NUTGRAF_* setting: name, default, description, in Settings' order."""
    rows = ["| variable | default | description |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"Settings.{name} has no description for the docs")
        variable = f"`NUTGRAF_{name.upper()}`"
        rows.append(f"| {variable} | {_default(field, name)} | {_cell(field.description)} |")
    return "\n".join(rows) + "\n"


def errors_table() -> str:
    """Every documented error: code, HTTP status, when it is answered, headers it carries."""
    rows = ["| code | status | when | headers |", "| --- | --- | --- | --- |"]
    for error in CATALOGUE:
        headers = ", ".join(f"`{header}`" for header in error.header_names)
        rows.append(f"| `{error.code}` | {error.status} | {_cell(error.when)} | {headers} |")
    return "\n".join(rows) + "\n"


# Each page, and the generated sections it holds by name.
PAGES: dict[str, dict[str, Callable[[], str]]] = {
    "docs/configuration.md": {"settings": settings_table},
    "docs/api.md": {"errors": errors_table},
}


def regenerate(text: str, sections: dict[str, Callable[[], str]]) -> str:
    """`text` with each named section between its markers written anew."""
    for name, build in sections.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        found = pattern.findall(text)
        if len(found) != 1:
            raise ValueError(f"expected one pair of markers for section {name!r}: {begin}")
        text = text.replace(found[0], f"{begin}\n{build()}{end}", 1)
    return text


def stale_pages(root: Path = ROOT) -> dict[str, str]:
    """Each page whose generated sections are out of date, with its up-to-date text."""
    stale = {}
    for page, sections in PAGES.items():
        current = (root / page).read_text(encoding="utf-8")
        fresh = regenerate(current, sections)
        if fresh != current:
            stale[page] = fresh
    return stale


def main(argv: list[str] | None = None) -> int:
    """Rewrite the stale pages (or, with --check, list them and exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m service.reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = stale_pages()
    for page, text in stale.items():
        if args.check:
            print(f"{page} is stale: run `make docs`", file=sys.stderr)
        else:
            (ROOT / page).write_text(text, encoding="utf-8")
            print(f"rewrote {page}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
