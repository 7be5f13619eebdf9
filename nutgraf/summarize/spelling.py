"""No seams: a summary's words spelled as its article spells them.

A model's decoded output (and text that went through a news tokenizer, as CNN/DailyMail's
highlights did) shows seams where the article has none: "same- sex" for "same-sex",
"can ' t" for "can't", "the'sustained attack '" for "the 'sustained attack'", "U.S ." for
"U.S.", straight quotes for the article's curly ones. Around each such seam, the smallest
run of words that, spaces and quote shapes aside, is the article's text (and agrees with
the words on either side) is replaced by the article's text. Text without a seam is never
touched: two words the article happens to write as one ("in to" / "into") stay apart.
A space before closing punctuation or after an opening bracket that no article run
accounts for goes too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# A seam is looked for in runs of at most this many summary pieces around it: it is local.
MAX_RUN: Final = 6
# Quote shapes folded together for the comparison (the article's own shape is kept).
_FOLD: Final = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"'})
_PIECE: Final = re.compile(r"\S+")
_QUOTE: Final = re.compile(r"['’‘`\"“”]")
_ALNUM: Final = re.compile(r"[^\W_]")
_TAIL: Final = re.compile(r"[^\W_]+$")
_HEAD: Final = re.compile(r"[^\W_]+")
_CLOSING: Final = re.compile(r"(?<=[^\s(\[]) +([.,;:!?%)\]]+)(?=\s|$)")
_OPENING: Final = re.compile(r"(?:(?<=\s)|^)([(\[]) +(?=[^\W_])")
# Characters that join two words into one: "party's", "long-lost".
_JOINERS: Final = frozenset("'’-–")
# A piece that joins onto a neighbour in well-spelled text: punctuation alone ("'", ","),
# a clitic ("'ve", "n't", "'s"), or a word cut at a hyphen or an apostrophe ("same-").
_SEAM: Final = re.compile(r"^(?:[^\w\s]+|[^\w\s].*|n['’]t|.*[-–/'’(])$")


@dataclass(frozen=True)
class _Match:
    """A run's spelling in the article, and the word the article writes right against it
    on either side, which the summary has there too ("" for a space or punctuation)."""

    text: str
    before: str
    after: str


class Respeller:
    """An article read once, to respell any number of summary sentences against it."""

    def __init__(self, article: str) -> None:
        # The article without its whitespace, as it is and with its quotes folded, and
        # where each of its characters sits in the article.
        self.positions = [i for i, char in enumerate(article) if not char.isspace()]
        self.squeezed = "".join(article[i] for i in self.positions)
        self.folded = self.squeezed.translate(_FOLD)
        self.article = article
        self._spaced: str | None = None  # the article single-spaced, when first needed

    def respell(self, text: str) -> str:
        """`text` with each seam spelled as the article spells it; its lines kept apart
        (a summary's bullet items, or sentences one per line)."""
        return "\n".join(self._respell_line(line) for line in text.split("\n"))

    def _respell_line(self, text: str) -> str:
        pieces = [(m.start(), m.end()) for m in _PIECE.finditer(text)]
        edits: list[tuple[int, int, _Match]] = []
        done = -1
        for index, (start, end) in enumerate(pieces):
            piece = text[start:end]
            if index > done and (_SEAM.match(piece) or _QUOTE.search(piece)):
                found = self._smallest_run(text, pieces, index, done + 1)
                if found is not None:
                    edits.append(found)
                    done = found[1]
        out = ""
        last = 0
        for first, final, match in edits:
            start, end = pieces[first][0], pieces[final][1]
            if start < last:
                continue  # already glued onto the run before
            out += text[last:start]
            # ", Suha" after "widow": the article writes the comma onto the word before.
            if match.before and out[-1:].isspace():
                out = out.rstrip()
            out += match.text
            last = end
            rest = text[end:].lstrip()
            if match.after:
                # "same-" before "sex": the article writes them as one.
                last = len(text) - len(rest)
        # What no run of the article's words spelled: a space before closing punctuation
        # ("marriage ." where the summary ends a sentence the article goes on with), or
        # after an opening bracket, is a seam in any English.
        return _OPENING.sub(self._opening, _CLOSING.sub(self._closing, out + text[last:]))

    def _closing(self, spaced: re.Match[str]) -> str:
        """Closing punctuation without the space before it, unless the article spaces it
        so after the same word."""
        before = spaced.string[: spaced.start()].split()[-1:]
        return spaced.group() if self._spaces([*before, spaced.group(1)]) else spaced.group(1)

    def _opening(self, spaced: re.Match[str]) -> str:
        """An opening bracket without the space after it, unless the article spaces it so
        before the same word."""
        after = spaced.string[spaced.end() :].split()[:1]
        return spaced.group() if self._spaces([spaced.group(1), *after]) else spaced.group(1)

    def _spaces(self, words: list[str]) -> bool:
        if self._spaced is None:
            self._spaced = " ".join(self.article.split())
        return " ".join(words) in self._spaced

    def _smallest_run(
        self, text: str, pieces: list[tuple[int, int]], seam: int, lowest: int
    ) -> tuple[int, int, _Match] | None:
        """The smallest run of pieces around piece `seam` (none before `lowest`) that the
        article holds, spaces and quote shapes aside, and spells otherwise, grown to the
        right while the article still holds it: its first and last pieces and the
        article's spelling. Runs to the left come first: a seam joins a word to the one
        before it more often than to the one after."""
        for size in range(1, MAX_RUN + 1):
            for first in range(max(lowest, seam - size + 1), seam + 1):
                last = first + size - 1
                if last >= len(pieces):
                    break
                match = self._run(text, pieces, first, last)
                if match is None:
                    continue
                spaced = " ".join(text[s:e] for s, e in pieces[first : last + 1])
                if match.text == spaced and not (match.before or match.after):
                    continue  # spelled as the article already
                # Grown while it lasts, so that the next seam does not start short of it.
                while last + 1 < len(pieces):
                    longer = self._run(text, pieces, first, last + 1)
                    if longer is None:
                        break
                    last, match = last + 1, longer
                return first, last, match
        return None

    def _run(
        self, text: str, pieces: list[tuple[int, int]], first: int, last: int
    ) -> _Match | None:
        """The article's spelling of pieces first..last, found where the article writes
        them with what the summary has on either side; else None."""
        start, end = pieces[first][0], pieces[last][1]
        joined = "".join(text[s:e] for s, e in pieces[first : last + 1])
        context = (text[:start].rstrip(), text[end:].lstrip())
        # The article's very characters first: its quote shapes where they agree.
        return self._find(joined, self.squeezed, context) or self._find(
            joined.translate(_FOLD), self.folded, context
        )

    def _find(self, squeezed: str, within: str, context: tuple[str, str]) -> _Match | None:
        """The article's text for a whitespace-free string found in `within` (the squeezed
        article, folded or not) with what the summary has before and after it (`context`),
        its inner whitespace as single spaces; None when the article lacks it."""
        if not _ALNUM.search(squeezed):
            return None  # punctuation alone: no word to anchor it
        at = within.find(squeezed)
        while at != -1:
            start = self.positions[at]
            end = self.positions[at + len(squeezed) - 1] + 1
            before = _against(self.article[:start], self.article[start], context[0], tail=True)
            after = _against(self.article[end:], self.article[end - 1], context[1], tail=False)
            if before is not None and after is not None:
                return _Match(" ".join(self.article[start:end].split()), before, after)
            at = within.find(squeezed, at + 1)
        return None


def _against(outside: str, inside: str, summary: str, *, tail: bool) -> str | None:
    """What the article writes right against a run's edge (`inside`, its first or last
    character) on the side of `outside` (the article's text before or after the run),
    given what the summary has there (`summary`): "" for a space or punctuation the run
    may stop at; the word the run is glued to ("same-" then "sex"), when the summary has
    it there too; None where the run would start or end inside another word ("party'" of
    "party's" before "said")."""
    near = outside[-1:] if tail else outside[:1]
    if not near or near.isspace():
        return ""
    if _ALNUM.match(inside) and not _ALNUM.match(near) and near not in _JOINERS:
        return ""  # a word, then its punctuation: the summary goes on as it likes
    word = _tail(outside) if tail else _head(outside)
    if word:
        said = _tail(summary) if tail else _head(summary)
        return word if said == word else None
    # Punctuation against punctuation ("." then "'"): the summary must have it too.
    return "" if (summary.endswith(near) if tail else summary.startswith(near)) else None


def _tail(text: str) -> str:
    """The letters and digits that `text` ends with (at most 40)."""
    found = _TAIL.search(text[-40:])
    return found.group() if found else ""


def _head(text: str) -> str:
    """The letters and digits that `text` starts with."""
    found = _HEAD.match(text)
    return found.group() if found else ""


def respell(text: str, article: str) -> str:
    """`text` with its seams ("same- sex", "can ' t") spelled as `article` spells them."""
    return Respeller(article).respell(text)
