"""bench/precision_pair.py's pure parts: the paired bootstrap, the verdict and the table.

The script itself needs two model loads and two generations per article (minutes on a
shared CPU for even two articles), so it is run by hand (docs/benchmarks.md)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


def test_identical_sides_give_a_zero_interval(pair: ModuleType) -> None:
    result = pair.paired_bootstrap([10.0, 20.0, 30.0], [10.0, 20.0, 30.0])
    assert (result.a, result.b, result.diff, result.low, result.high) == (20, 20, 0, 0, 0)


def test_the_interval_is_of_the_paired_difference(pair: ModuleType) -> None:
    # Large spread between articles, a constant +1 within each pair: pairing sees only +1.
    a = list(np.linspace(0, 90, 40))
    b = [x + 1 for x in a]
    result = pair.paired_bootstrap(a, b)
    assert result.diff == pytest.approx(1) and result.low == pytest.approx(1)
    assert result.high == pytest.approx(1)


def test_the_bootstrap_is_seeded_and_covers_the_mean(pair: ModuleType) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(30, 10, 200)
    b = a + rng.normal(0, 2, 200)
    first = pair.paired_bootstrap(a, b)
    assert pair.paired_bootstrap(a, b) == first  # same seed, same interval
    assert first.low < first.diff < first.high
    assert first.high - first.low < 1.5  # ~4 x 2/sqrt(200): resampling articles, not noise


def test_unequal_or_empty_sides_are_refused(pair: ModuleType) -> None:
    with pytest.raises(ValueError):
        pair.paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        pair.paired_bootstrap([], [])


def test_rate_intervals_come_from_0_1_indicators(pair: ModuleType) -> None:
    # 3 of 20 articles newly fall back under bf16, none recover: a rise beyond the noise?
    a = [0.0] * 20
    b = [100.0] * 3 + [0.0] * 17
    result = pair.paired_bootstrap(a, b)
    assert result.diff == pytest.approx(15)
    assert result.low >= 0  # the bootstrap never draws a negative mean here


def _pairs(pair: ModuleType, **changed: tuple[float, float]) -> dict[str, object]:
    fields = ("rouge1", "rouge2", "rougeLsum", "unsupported_pct", "fallback_pct")
    pairs = {name: pair.Paired(20, 20, 0, -1, 1) for name in fields}
    for name, (low, high) in changed.items():
        pairs[name] = pair.Paired(20, 20, (low + high) / 2, low, high)
    return pairs


def test_verdict(pair: ModuleType) -> None:
    assert pair.verdict(_pairs(pair)) == "no loss beyond noise"
    # Better beyond the noise is no loss either.
    assert pair.verdict(_pairs(pair, rouge2=(0.5, 2), fallback_pct=(-5, -1))) == (
        "no loss beyond noise"
    )
    # ROUGE-1 is reported but not judged.
    assert pair.verdict(_pairs(pair, rouge1=(-3, -1))) == "no loss beyond noise"
    assert pair.verdict(_pairs(pair, rouge2=(-2, -0.1))) == "loss beyond noise: rouge2"
    assert pair.verdict(_pairs(pair, rougeLsum=(-2, -0.1), unsupported_pct=(1, 8))) == (
        "loss beyond noise: rougeLsum, unsupported_pct"
    )
    assert pair.verdict(_pairs(pair, fallback_pct=(0.5, 6))) == "loss beyond noise: fallback_pct"


def test_report_and_table_side_by_side(pair: ModuleType) -> None:
    fields = [field for _, field, _ in pair.MEASURES]
    rows = {
        "float32": {**{f: [40.0, 50.0] for f in fields}, "seconds": [4.0, 6.0]},
        "bfloat16": {**{f: [40.0, 50.0] for f in fields}, "seconds": [2.0, 3.0]},
    }
    summary = pair.report(rows)
    assert summary["articles"] == 2
    assert summary["speed_ratio"] == pytest.approx(2.0)
    assert summary["verdict"] == "no loss beyond noise"
    table = pair.format_table(summary)
    assert "ROUGE-Lsum F1" in table and "fell back to extractive %" in table
    assert "2.00x" in table
    assert table.splitlines()[-1] == "verdict: no loss beyond noise"


def test_rows_of_several_parts_read_back_as_one_run_in_article_order(
    pair: ModuleType, tmp_path: Path
) -> None:
    import json

    def line(article: int, fp32: float, bf16: float) -> str:
        return json.dumps(
            {"article": article, "float32": {"rouge2": fp32}, "bfloat16": {"rouge2": bf16}}
        )

    (tmp_path / "a.jsonl").write_text(line(0, 10, 11) + "\n" + line(2, 30, 31) + "\n")
    # Part 1, stopped and resumed: article 1 written twice counts once.
    (tmp_path / "b.jsonl").write_text(line(1, 20, 21) + "\n" + line(1, 20, 21) + "\n")
    rows = pair.read_rows([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert rows["float32"]["rouge2"] == [10, 20, 30]
    assert rows["bfloat16"]["rouge2"] == [11, 21, 31]


def test_second_drafts_are_counted_and_replaced_by_the_extractive_figures(
    pair: ModuleType,
) -> None:
    def side(rouge2: float, drafted: bool, fell_back: bool = False) -> dict[str, float]:
        return {
            "rouge2": rouge2,
            "regenerated_pct": 100.0 * drafted,
            "fallback_pct": 100.0 * fell_back,
        }

    lines = {
        0: {"float32": {"rouge2": 5.0}, "bfloat16": {"rouge2": 5.0}},  # before the field existed
        1: {"float32": side(20, True), "bfloat16": side(20, False)},
        2: {"float32": side(30, True, fell_back=True), "bfloat16": side(30, False)},
        3: {"float32": side(40, False), "bfloat16": side(40, False)},
    }
    text = pair.second_drafts(lines, lambda number: 10.0 * number)
    assert text[0] == "second drafts, 3 articles that record them:"
    # float32: articles 1 and 2 drafted twice (1 passed); without them 10 and 20 instead of
    # 20 and 30, so the mean falls by 20 / 3.
    assert text[1].startswith("  float32: 2 drafted twice, 1 of them then passed; ")
    assert "ROUGE-2 without second drafts -6.67" in text[1]
    assert "bfloat16: 0 drafted twice, 0 of them then passed; " in text[2]
    assert "+0.00 [+0.00, +0.00]" in text[2]
    assert pair.second_drafts({0: lines[0]}, lambda number: 0.0) == []


def test_the_table_reads_only_figures_every_row_has(pair: ModuleType, tmp_path: Path) -> None:
    import json

    old = {"article": 0, "float32": {"rouge2": 1}, "bfloat16": {"rouge2": 2}}
    new = {
        "article": 1,
        "float32": {"rouge2": 3, "regenerated_pct": 100},
        "bfloat16": {"rouge2": 4, "regenerated_pct": 0},
    }
    (tmp_path / "rows.jsonl").write_text(json.dumps(old) + "\n" + json.dumps(new) + "\n")
    rows = pair.read_rows([tmp_path / "rows.jsonl"])
    assert rows["float32"] == {"rouge2": [1, 3]}
