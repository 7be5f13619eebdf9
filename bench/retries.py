"""Retries: how often the second draft rescues a summary whose first draft failed its checks,
by the first draft's problem.

    .venv/bin/python bench/retries.py ../shared/data/news-dev.jsonl --limit 40
    .venv/bin/python bench/retries.py news-dev.jsonl --start 20 --limit 20 --json part.json
    .venv/bin/python bench/retries.py --merge part-a.json part-b.json

A summary that fails a check is generated again once with a stricter instruction
(nutgraf/summarize/abstractive.py), which costs as much as the first draft; the second is
kept when it passes. This runs the bundled model (default NUTGRAF_MODEL, its dtype) over dev
articles at one length, in batches as a worker runs them, and prints per first-draft
problem: drafts, retries that passed, and the model CPU-seconds; then ROUGE against lead-3
on the same articles, the share of summary sentences copied word for word, and fallbacks.
`--json` writes each article's record, and `--merge` tables records written by several
runs (say one per core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nutgraf.contract import SummaryOptions  # noqa: E402
from nutgraf.evaluate import lead3, rouge, summary_units, verbatim_units  # noqa: E402
from nutgraf.models import Backend, Generation  # noqa: E402
from nutgraf.settings import Settings  # noqa: E402
from nutgraf.summarize import Article, Summarizer, load_summarizer, set_torch_threads  # noqa: E402
from nutgraf.summarize.abstractive import Draft  # noqa: E402
from nutgraf.text import source_text  # noqa: E402


class RecordingSummarizer(Summarizer):
    """A Summarizer that notes each draft's problem, in the order they are checked: a
    batch's first drafts, then its retries."""

    def __init__(self, backend: Backend, batch_tokens: int | None = None) -> None:
        super().__init__(backend, batch_tokens)
        self.checked: list[tuple[int, str | None]] = []  # (id of the article, problem)

    def _check(self, article: Article, output: Generation) -> Draft:
        draft = super()._check(article, output)
        self.checked.append((id(article), draft.verdict.problem))
        return draft


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each record of the articles the arguments choose, with the model they name."""
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines() if line]
    set_torch_threads(args.threads)
    loaded = load_summarizer(Settings(), args.model)
    summarizer = RecordingSummarizer(loaded.backend, loaded.batch_tokens)
    options = SummaryOptions.model_validate({"length": args.length})
    return record(summarizer, rows[args.start : args.start + args.limit], options, args.batch_size)


def record(
    summarizer: RecordingSummarizer,
    rows: list[dict[str, Any]],
    options: SummaryOptions,
    batch_size: int,
) -> list[dict[str, Any]]:
    """Each article's record: its first draft's problem, its retry's (None: it passed, or
    there was none), whether it fell back, and its share of its batch's CPU-seconds."""
    records = []
    for offset in range(0, len(rows), batch_size):
        batch = rows[offset : offset + batch_size]
        articles = [Article(row["text"], options=options, title=row.get("title")) for row in batch]
        summarizer.checked.clear()
        started = time.process_time()
        results = summarizer.summarize_batch(articles)
        cpu_s = time.process_time() - started
        problems: dict[int, list[str | None]] = {}
        for article_id, problem in summarizer.checked:
            problems.setdefault(article_id, []).append(problem)
        for row, article, result in zip(batch, articles, results, strict=True):
            drafts = problems[id(article)]
            records.append(
                {
                    "id": row.get("id"),
                    "first": drafts[0],
                    "retry": drafts[1] if len(drafts) > 1 else None,
                    "retried": len(drafts) > 1,
                    "fallback": result.checks.fallback,
                    "cpu_s": cpu_s / len(batch),
                    "summary": "\n".join(summary_units(result, options)),
                    "reference": row.get("summary"),
                    "lead3": lead3(row["text"]),
                    "verbatim": verbatim_units(
                        result, options, source_text(row["text"], row.get("title"))
                    ),
                }
            )
        print(f"{offset + len(batch)}/{len(rows)} articles", file=sys.stderr, flush=True)
    return records


def table(records: list[dict[str, Any]]) -> str:
    """Per first-draft problem: drafts, retries that passed, fallbacks, mean CPU-s."""
    lines = [f"{'first draft':<22} {'drafts':>6} {'retry passed':>12} {'fell back':>9}"]
    kinds = Counter(r["first"] or "passed" for r in records)
    for kind, count in kinds.most_common():
        mine = [r for r in records if (r["first"] or "passed") == kind]
        rescued = sum(1 for r in mine if r["retried"] and r["retry"] is None)
        fell = sum(1 for r in mine if r["fallback"])
        lines.append(f"{kind:<22} {count:>6} {rescued:>12} {fell:>9}")
    retried = [r for r in records if r["retried"]]
    rescued = sum(1 for r in retried if r["retry"] is None)
    cpu = sum(r["cpu_s"] for r in records)
    lines.append(
        f"{len(records)} articles, {len(retried)} retried, {rescued} rescued by the retry; "
        f"{cpu:.0f} model CPU-s in all"
    )
    scored = [r for r in records if r.get("reference")]
    if scored:
        references = [r["reference"] for r in scored]
        system = rouge([r["summary"] for r in scored], references)
        baseline = rouge([r["lead3"] for r in scored], references)
        copied = sum(r["verbatim"][0] for r in scored) / max(
            1, sum(r["verbatim"][1] for r in scored)
        )
        lines.append(
            f"ROUGE-1/2/Lsum {system['rouge1']:.2f} / {system['rouge2']:.2f} / "
            f"{system['rougeLsum']:.2f}, lead-3 {baseline['rouge1']:.2f} / "
            f"{baseline['rouge2']:.2f} / {baseline['rougeLsum']:.2f}, ROUGE-2 "
            f"{system['rouge2'] / baseline['rouge2']:.3f} times lead-3's; "
            f"{100 * copied:.1f}% of sentences verbatim; "
            f"{100 * sum(r['fallback'] for r in scored) / len(scored):.1f}% fell back"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", help="the dev set: JSONL with id, text and summary")
    parser.add_argument("--start", type=int, default=0, help="skip the first N articles")
    parser.add_argument("--limit", type=int, default=40, help="articles to summarize")
    parser.add_argument("--length", default="medium", help="the summary length")
    parser.add_argument("--batch-size", type=int, default=4, help="articles per batch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (one per run)")
    parser.add_argument("--model", help="preset, HF id or path (default NUTGRAF_MODEL)")
    parser.add_argument("--json", help="write each article's record here")
    parser.add_argument("--merge", nargs="+", help="table the records of these --json files")
    args = parser.parse_args(argv)
    if args.merge:
        records = [r for path in args.merge for r in json.loads(Path(path).read_text())]
    elif args.data:
        records = run(args)
        if args.json:
            Path(args.json).write_text(json.dumps(records, indent=1) + "\n")
    else:
        parser.error("give the dev set, or --merge")
    print(table(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
