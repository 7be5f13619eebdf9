"""Grounded decoding: a summary may only use the words of the article it summarizes.

A logits processor for generate(), for every model family. At each step it
- lets through only tokens the row's source holds (in any of the forms a word takes at a
  sentence start or mid-sentence), common function words, punctuation and end tokens, so a
  name, a number or a word of another language the article lacks cannot be written, and
  neither can talk about "the article" when the article does not say "article";
- adds a copy bias to the tokens that follow the last one in the source, so the model
  copies the article's phrases (and its names whole) rather than paraphrasing them;
- forbids repeating a word trigram of the answer itself. transformers' own repetition
  penalty and n-gram ban read the prompt too, so for a decoder-only model they would
  punish exactly the copying this processor asks for.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Any, Final

import torch
from transformers import LogitsProcessor

# Logit bonus for continuing a phrase of the source; about what makes copying a phrase win
# over paraphrasing it without forcing every sentence to be copied whole.
COPY_BONUS: Final = 2.0
# A trigram of the answer is not written twice: small models loop otherwise.
NO_REPEAT_NGRAM: Final = 3
# Words any summary may use whether or not the article does (sentence glue, not facts).
_FREE_WORDS_LIST: Final = """
    a an the and or but so yet nor of in on at to for from by with about as into onto over
    under after before during since until while than then also too very more most less
    least not no is are was were be been being has have had do does did will would can
    could may might must should shall it its he his him she her hers they their them we
    our us who whom whose which what when where why how this that these those there here
    said says say told according including both each other such some any all new
"""
FREE_WORDS: Final = frozenset(_FREE_WORDS_LIST.split())
# The most pieces looked back to find where a word starts.
_LONGEST_WORD: Final = 8
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|\d+(?:[.,]\d+)*")


@lru_cache(maxsize=4)
def _always_allowed(tokenizer: Any, vocab_size: int) -> torch.Tensor:
    """Vocabulary mask of what every summary may write: punctuation, whitespace, special
    tokens and the free words. Built once per tokenizer (decoding the vocabulary ~1 s)."""
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    for index, text in enumerate(_pieces(tokenizer)[:vocab_size]):
        # Punctuation and spaces carry no fact; digits and letters do.
        if text and not any(char.isalnum() for char in text):
            mask[index] = True
    for index in tokenizer.all_special_ids:
        if index < vocab_size:
            mask[index] = True
    for token_ids in _word_forms(tokenizer, FREE_WORDS):
        mask[token_ids] = True
    return mask


@lru_cache(maxsize=4)
def _pieces(tokenizer: Any) -> list[str]:
    """Each token id's text ("Ġword" as " word")."""
    ids = list(range(len(tokenizer)))
    return [
        tokenizer.convert_tokens_to_string([piece]) if piece else ""
        for piece in tokenizer.convert_ids_to_tokens(ids)
    ]


@lru_cache(maxsize=4)
def _continuations(tokenizer: Any, vocab_size: int) -> torch.Tensor:
    """Vocabulary mask of the pieces that continue a word (no leading space, alphanumeric)."""
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    for index, text in enumerate(_pieces(tokenizer)[:vocab_size]):
        mask[index] = bool(text) and text[0].isalnum()
    return mask


def _word_forms(tokenizer: Any, words: frozenset[str] | set[str]) -> list[list[int]]:
    """Token ids of each word as written mid-sentence (" word"), at a start ("Word"), and
    in the case variant of its first letter."""
    forms: set[str] = set()
    for word in words:
        for variant in {word, word[:1].upper() + word[1:], word[:1].lower() + word[1:]}:
            forms.update((variant, " " + variant))
    if not forms:
        return []
    encoded: list[list[int]] = tokenizer(sorted(forms), add_special_tokens=False)["input_ids"]
    return encoded


class GroundedDecoding(LogitsProcessor):
    """Keeps each row's answer to its own source's words, with a copy bias (module doc)."""

    def __init__(
        self, tokenizer: Any, sources: list[str], prompt_length: int, beams: int = 1
    ) -> None:
        self.tokenizer = tokenizer
        self.sources = sources
        self.prompt_length = prompt_length  # the answer starts at this column of input_ids
        self.beams = beams  # rows of input_ids per source
        self._masks: torch.Tensor | None = None
        self._continues: torch.Tensor | None = None
        self._successors: list[dict[int, list[int]]] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> Any:
        """Scores with forbidden tokens at -inf and the copy bias added."""
        if self._masks is None or self._continues is None:
            self._prepare(scores.shape[-1], scores.device)
        assert self._masks is not None and self._continues is not None
        rows = input_ids.shape[0]
        sources = [row // self.beams for row in range(rows)]
        allowed = self._masks[sources]
        bonus = torch.zeros_like(scores)
        answers = input_ids[:, self.prompt_length :].tolist()
        continues = self._continues
        for row, answer in enumerate(answers):
            following = self._successors[sources[row]].get(answer[-1], []) if answer else []
            if following:
                bonus[row, following] = COPY_BONUS
            if answer and self._inside_name(answer):
                # Inside a name or a number, the next piece of the same word must be one
                # the source has after this piece: "Greensl" + "ade", never + "ad".
                kept = allowed[row, following].clone()
                allowed[row] &= ~continues
                allowed[row, following] = kept
            for banned in _repeats(answer, NO_REPEAT_NGRAM):
                allowed[row, banned] = False
        scores = scores + bonus
        return scores.masked_fill(~allowed, float("-inf"))

    def _inside_name(self, answer: list[int]) -> bool:
        """Whether the answer ends inside a word that is capitalized or holds a digit."""
        pieces = _pieces(self.tokenizer)
        word = ""
        for token in reversed(answer[-_LONGEST_WORD:]):
            piece = pieces[token] if token < len(pieces) else ""
            word = piece + word
            if not piece or not piece[0].isalnum():
                break  # the word's first piece: it starts with a space (or is punctuation)
        word = word.strip()
        return bool(word) and (word[0].isupper() or any(char.isdigit() for char in word))

    def _prepare(self, vocab_size: int, device: torch.device) -> None:
        """Each source's vocabulary mask and its token successors, built on the first step
        and kept on the scores' device (not copied there at every step)."""
        base = _always_allowed(self.tokenizer, vocab_size)
        masks = []
        for source in self.sources:
            mask = base.clone()
            ids: list[int] = self.tokenizer(source, add_special_tokens=False)["input_ids"]
            mask[[i for i in ids if i < vocab_size]] = True
            for form in _word_forms(self.tokenizer, set(_WORD.findall(source))):
                mask[[i for i in form if i < vocab_size]] = True
            masks.append(mask)
            successors: dict[int, list[int]] = {}
            for current, following in itertools.pairwise(ids):
                successors.setdefault(current, []).append(following)
            self._successors.append(successors)
        self._masks = torch.stack(masks).to(device)
        self._continues = _continuations(self.tokenizer, vocab_size).to(device)


def _repeats(answer: list[int], size: int) -> list[int]:
    """Tokens that would complete an n-gram of `size` the answer already holds."""
    if len(answer) < size:
        return []
    prefix = answer[-(size - 1) :]
    return [
        answer[i + size - 1]
        for i in range(len(answer) - size + 1)
        if answer[i : i + size - 1] == prefix
    ]
