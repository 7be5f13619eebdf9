"""Cheap faithfulness check: numbers and names a summary states that its article lacks.

No model and no network: regular expressions, word sets and a few honest rules, fast enough
to run on every summary. It catches invented figures and invented names; it does not judge
whether the sentences around them are true. numbers.py reads figures, names.py words and
names, support.py what the article states.
"""

from __future__ import annotations

from nutgraf.summarize.faithfulness.names import QUOTES, Piece, find_pieces, runs
from nutgraf.summarize.faithfulness.numbers import find_numbers
from nutgraf.summarize.faithfulness.support import Evidence, Support, name_supported

__all__ = ["Support", "unsupported_in", "unsupported_items"]


def unsupported_items(summary: str, article: str, title: str | None = None) -> list[str]:
    """Numbers and names that `summary` states and `article` (or `title`) lacks, in order."""
    return unsupported_in(summary, Support(article, title))


def unsupported_in(summary: str, support: Support) -> list[str]:
    """Numbers and names that `summary` states and `support` (an article read once, for
    many summaries or sentences) lacks, in order."""
    # Same length as `summary`, so every offset below is also an offset into `summary`.
    view = summary.translate(QUOTES)
    pieces = find_pieces(view)
    evidence = Evidence(pieces, support)

    found: list[tuple[int, int]] = []
    for number in find_numbers(view):
        if number.checkable and not support.has_number(number):
            found.append((number.start, number.end))

    def starts_name(piece: Piece) -> bool:
        if not piece.capitalized or len(piece.base) < 2:
            return False
        return piece.inside or evidence.may_open_name(piece)

    for run in runs(view, pieces, starts_name):
        if not name_supported(run, support):
            # Reported without a possessive: "Jane Doe", not "Jane Doe's".
            found.append((run[0].start, run[-1].start + len(run[-1].base)))

    items: list[str] = []
    for start, end in sorted(found):
        surface = " ".join(summary[start:end].split())
        if surface not in items:
            items.append(surface)
    return items
