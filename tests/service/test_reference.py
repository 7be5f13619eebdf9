"""The generated references in docs/ (settings, errors) match the code they come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from nutgraf.settings import Settings
from service import reference
from service.errors import CATALOGUE, NotFound


def test_the_generated_pages_are_up_to_date() -> None:
    # Regenerated in memory; a stale page means someone changed a setting or an error
    # class without running `make docs`.
    assert sorted(reference.stale_pages()) == [], "run `make docs` and commit the pages"


def test_every_setting_is_a_row_with_its_description() -> None:
    table = reference.settings_table()
    for name, field in Settings.model_fields.items():
        assert f"| `NUTGRAF_{name.upper()}` |" in table
        assert field.description
    assert "| `NUTGRAF_JOB_TTL_S` | `604800` (7 days) |" in table
    assert "| `NUTGRAF_WEBHOOK_ALLOW_PRIVATE` | `false` |" in table
    assert "| `NUTGRAF_REDIS_URL` | unset |" in table
    # A default that depends on the machine is shown as what it means, never a home folder.
    assert str(Path.home()) not in table


def test_every_error_is_a_row_with_its_status_and_when() -> None:
    table = reference.errors_table()
    rows = table.splitlines()[2:]
    assert [row.split(" | ")[0].strip("| `") for row in rows] == [e.code for e in CATALOGUE]
    # The 404's row says what NotFound.when says (a hand-written table once disagreed).
    assert reference._cell(NotFound.when) in table


def test_a_page_edited_by_hand_is_stale(tmp_path: Path) -> None:
    for page in reference.PAGES:
        copy = tmp_path / page
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text((reference.ROOT / page).read_text(encoding="utf-8"), encoding="utf-8")
    assert reference.stale_pages(tmp_path) == {}
    page = tmp_path / "docs/configuration.md"
    page.write_text(page.read_text().replace("| `NUTGRAF_MAX_CHARS` | `100000` |", "| x | y |"))
    assert list(reference.stale_pages(tmp_path)) == ["docs/configuration.md"]


def test_text_that_looks_like_html_is_shown_as_text() -> None:
    assert reference._cell("DELETE /v1/summaries/<id> | `a <b>`") == (
        "DELETE /v1/summaries/&lt;id&gt; \\| `a <b>`"
    )


def test_a_page_without_its_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="settings"):
        reference.regenerate("# no markers here\n", {"settings": reference.settings_table})


def test_regenerating_rewrites_only_between_the_markers() -> None:
    begin = reference.BEGIN.format(name="t")
    end = reference.END.format(name="t")
    page = f"intro\n{begin}\nold\n{end}\noutro\n"
    assert reference.regenerate(page, {"t": lambda: "new\n"}) == (
        f"intro\n{begin}\nnew\n{end}\noutro\n"
    )
