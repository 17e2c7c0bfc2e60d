"""BM25 (bm25s) over NFKC character bigrams for Japanese and lower-cased words for English.

Japanese has no spaces; overlapping character bigrams match compounds such as バックアップ世代数
without a dictionary, and measured on the seeds they fuse well with e5. The "fugashi" tokenizer
adds MeCab (unidic-lite) content words to the bigrams; eval/bench_retrieval.py compares the two.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import bm25s
import numpy as np

_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u30fc]+|[a-z0-9]+(?:[._-][a-z0-9]+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
# Parts of speech that carry no topic: particles, auxiliaries, symbols, whitespace.
_FUNCTION_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}


def tokenize(text: str) -> list[str]:
    norm = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for run in _RUN.findall(norm):
        if _CJK.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


@cache
def _tagger() -> tuple[Any, threading.Lock]:
    import fugashi  # unidic-lite bundles its dictionary: nothing is downloaded

    return fugashi.Tagger(), threading.Lock()  # one MeCab handle, used by one thread at a time


def tokenize_words(text: str) -> list[str]:
    """Bigrams plus Japanese content words ("w:" keeps a two-character word apart from a bigram)."""
    tokens = tokenize(text)
    norm = unicodedata.normalize("NFKC", text).lower()
    if not _CJK.search(norm):
        return tokens
    tagger, lock = _tagger()
    with lock:
        words = [(w.surface, w.feature.pos1) for w in tagger(norm)]
    tokens.extend(f"w:{surface}" for surface, pos in words if _CJK.search(surface) and pos not in _FUNCTION_POS)
    return tokens


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"bigram": tokenize, "fugashi": tokenize_words}


class LexicalIndex:
    def __init__(self, ids: Sequence[str], texts: Sequence[str], tokenizer: str = "bigram") -> None:
        self.ids = list(ids)
        self._tokenize = TOKENIZERS[tokenizer]
        self._bm25 = bm25s.BM25()
        corpus = [self._tokenize(t) or [""] for t in texts]
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        tokens = self._tokenize(query)
        if not self.ids or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
