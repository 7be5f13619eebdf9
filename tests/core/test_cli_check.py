"""`nutgraf check ARTICLE SUMMARY`: POST /v1/checks' answer, as JSON on stdout."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from nutgraf import cli

ARTICLE = "The council approved the budget on Monday.\n\nNo one opposed it at the hearing."


def test_check_prints_each_sentence_s_problems_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    article = tmp_path / "article.txt"
    article.write_text(ARTICLE)
    monkeypatch.setattr("sys.stdin", io.StringIO("The council rejected the budget on Monday."))
    assert cli.main(["check", str(article), "-"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["problems"] == ["reversed"]
    (sentence,) = body["sentences"]
    assert sentence["problems"] == [{"kind": "reversed", "words": ["rejected"]}]
    (span,) = sentence["support"]
    assert ARTICLE[span["start"] : span["end"]] == span["text"]


def test_check_refuses_two_stdins_and_empty_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n")
    assert cli.main(["check", "-", "-"]) == 2
    assert cli.main(["check", str(empty), str(empty)]) == 2
    assert cli.main(["check", str(tmp_path / "missing.txt"), str(empty)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "only one of ARTICLE and SUMMARY" in captured.err and "is empty" in captured.err
