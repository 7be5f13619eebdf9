"""Reversed claims: how many of a hand-written set the checks catch, and how many human
reference summaries they wrongly call reversed.

    .venv/bin/python bench/reversed_claims.py ../shared/data/news-dev.jsonl
    .venv/bin/python bench/reversed_claims.py news-dev.jsonl --show   # each miss and flag
    .venv/bin/python bench/reversed_claims.py news-dev.jsonl --url http://127.0.0.1:8000

bench/data/reversed-claims.jsonl holds the claims, written by hand from dev articles: the
article's id, the sentence of the article it reverses (`original`), the reversed sentence
(`reversed`) and how it was reversed (`kind`: negation, antonym, direction, moved). Each
reversed sentence is checked as a one-sentence summary of its article, by the code behind
POST /v1/checks (nutgraf.summarize.checks) or, with --url, through a running service's
POST /v1/checks; so is each original, which must pass.
Then each of the set's reference summaries (`summary`) is checked whole. It prints the
detection rate by kind, the originals flagged, the references flagged `reversed`, and the
milliseconds a check takes.
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

from nutgraf.contract import CheckBody  # noqa: E402
from nutgraf.summarize.checks import check_summary  # noqa: E402

CLAIMS = ROOT / "bench" / "data" / "reversed-claims.jsonl"


def reversed_words(article: str, summary: str, client: Any = None) -> list[str]:
    """The words the checks call reversed in `summary`, every sentence's together."""
    body: CheckBody = (
        client.check(article, summary) if client is not None else check_summary(article, summary)
    )
    return [
        word
        for sentence in body.sentences
        for problem in sentence.problems
        if problem.kind == "reversed"
        for word in problem.words
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="the dev set: JSONL with id, text and summary")
    parser.add_argument("--claims", default=str(CLAIMS), help="the reversed-claim set")
    parser.add_argument("--show", action="store_true", help="print each miss and each flag")
    parser.add_argument("--url", help="check through this service's POST /v1/checks")
    parser.add_argument("--api-key", help="the service's Bearer key (default NUTGRAF_API_KEY)")
    args = parser.parse_args(argv)
    client = None
    if args.url:
        from nutgraf.client import Client

        client = Client(args.url, api_key=args.api_key)
    articles = {}
    for line in Path(args.data).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            articles[row["id"]] = row
    claims = [json.loads(line) for line in Path(args.claims).read_text().splitlines() if line]

    started = time.perf_counter()
    caught: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    originals_flagged = 0
    for claim in claims:
        article = articles[claim["article"]]["text"]
        totals[claim["kind"]] += 1
        words = reversed_words(article, claim["reversed"], client)
        if words:
            caught[claim["kind"]] += 1
        elif args.show:
            print(f"missed   {claim['article']} {claim['kind']}: {claim['reversed']}")
        if reversed_words(article, claim["original"], client):
            originals_flagged += 1
            if args.show:
                print(f"original {claim['article']}: {claim['original']}")
    flagged = 0
    for row in articles.values():
        words = reversed_words(row["text"], row["summary"], client)
        if words:
            flagged += 1
            if args.show:
                print(f"flagged  {row['id']} {words}: {row['summary']!r}")
    checks = 2 * len(claims) + len(articles)
    elapsed_ms = (time.perf_counter() - started) * 1000 / checks

    detected = sum(caught.values())
    print(
        f"reversed claims detected: {detected}/{len(claims)} = {100 * detected / len(claims):.1f}%"
    )
    for kind in sorted(totals):
        print(f"  {kind:10} {caught[kind]}/{totals[kind]}")
    print(f"originals flagged reversed: {originals_flagged}/{len(claims)}")
    share = 100 * flagged / len(articles)
    print(f"reference summaries flagged reversed: {flagged}/{len(articles)} = {share:.1f}%")
    where = f"through {args.url}" if args.url else "in this process"
    print(f"mean time per check ({where}): {elapsed_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
