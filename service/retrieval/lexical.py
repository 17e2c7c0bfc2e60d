"""BM25 over NFKC character bigrams for Japanese and lower-cased words for English.

Japanese has no spaces; overlapping character bigrams match compounds such as バックアップ世代数
without a dictionary, and measured on the seeds they fuse well with e5. The "fugashi" tokenizer
adds MeCab (unidic-lite) content words to the bigrams; eval/bench_retrieval.py compares the two.

The index keeps raw term counts in segments rather than bm25s's precomputed scores, because
counts can be split: a large base, persisted and memory-mapped (`LexicalStore`, lexical_store.py), and a
small delta of what changed since, scored
together with the statistics (N, df, average length) of the live documents. So an incremental
index ranks exactly as a full rebuild would, and the formula is bm25s's default (Lucene: idf =
ln(1 + (N - df + 0.5) / (df + 0.5)), k1 = 1.5, b = 0.75), summed per query token as bm25s does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

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


log = logging.getLogger(__name__)

K1, B = 1.5, 0.75


@dataclass(frozen=True)
class Segment:
    """Term counts of a set of documents, column-compressed by token (postings), immutable."""

    ids: np.ndarray  # (n,) str: document ids
    keys: np.ndarray  # (n,) S16: digest of a document's text and product, to tell what changed
    products: list[str | None]
    lengths: np.ndarray  # (n,) int32: tokens per document
    tokens: list[str]  # the vocabulary, sorted; a token's id is its position
    indptr: np.ndarray  # (V + 1,) int64: postings of token t are [indptr[t], indptr[t + 1])
    docs: np.ndarray  # (nnz,) int32: document of each posting
    tfs: np.ndarray  # (nnz,) float32: count of the token in that document

    @cached_property
    def vocab(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def build(rows: Sequence[tuple[str, str, str | None]], tokenizer: str, keys: np.ndarray | None = None) -> Segment:
        """rows: (id, text, product); `keys`: what tells a changed document (default: its text and
        product). Empty texts count as one empty token, as bm25s indexes them."""
        tokenize = TOKENIZERS[tokenizer]
        counts = [Counter(tokenize(text) or [""]) for _, text, _ in rows]
        tokens = sorted(set().union(*counts)) if counts else []
        vocab = {t: i for i, t in enumerate(tokens)}
        sizes = np.fromiter((len(c) for c in counts), dtype=np.int64, count=len(counts))
        token_ids = np.fromiter((vocab[t] for c in counts for t in c), dtype=np.int64, count=int(sizes.sum()))
        tfs = np.fromiter((n for c in counts for n in c.values()), dtype=np.float32, count=len(token_ids))
        docs = np.repeat(np.arange(len(counts), dtype=np.int32), sizes)
        return Segment._assemble(
            np.array([r[0] for r in rows], dtype=str),
            row_keys(rows) if keys is None else keys,
            [r[2] for r in rows],
            np.fromiter((sum(c.values()) for c in counts), dtype=np.int32, count=len(counts)),
            tokens,
            token_ids,
            docs,
            tfs,
        )

    @staticmethod
    def _assemble(ids, keys, products, lengths, tokens, token_ids, docs, tfs) -> Segment:  # noqa: ANN001
        order = np.argsort(token_ids, kind="stable")
        indptr = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(np.bincount(token_ids, minlength=len(tokens)), out=indptr[1:])
        return Segment(ids, keys, products, lengths, tokens, indptr, docs[order], tfs[order])

    @staticmethod
    def merge(parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
        """The live documents (mask per part) of several segments as one, without re-tokenizing."""
        tokens = sorted(set().union(*(p.tokens for p, _ in parts)))
        vocab = {t: i for i, t in enumerate(tokens)}
        ids, keys, products, lengths, token_ids, docs, tfs = [], [], [], [], [], [], []
        offset = 0
        for segment, alive in parts:
            renumber = np.cumsum(alive, dtype=np.int64) - 1 + offset
            remap = np.fromiter((vocab[t] for t in segment.tokens), dtype=np.int64, count=len(segment.tokens))
            posting_token = np.repeat(remap, np.diff(segment.indptr))
            keep = alive[segment.docs]
            token_ids.append(posting_token[keep])
            docs.append(renumber[segment.docs[keep]].astype(np.int32))
            tfs.append(np.asarray(segment.tfs)[keep])
            ids.append(np.asarray(segment.ids)[alive])
            keys.append(np.asarray(segment.keys)[alive])
            lengths.append(np.asarray(segment.lengths)[alive])
            products.extend(p for p, live in zip(segment.products, alive, strict=True) if live)
            offset += int(alive.sum())
        return Segment._assemble(
            np.concatenate(ids),
            np.concatenate(keys),
            products,
            np.concatenate(lengths),
            tokens,
            np.concatenate(token_ids),
            np.concatenate(docs),
            np.concatenate(tfs),
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        for name in ("ids", "keys", "lengths", "indptr", "docs", "tfs"):
            np.save(folder / f"{name}.npy", np.asarray(getattr(self, name)), allow_pickle=False)
        (folder / "strings.json").write_text(
            json.dumps({"tokens": self.tokens, "products": self.products}, ensure_ascii=False), encoding="utf-8"
        )

    @staticmethod
    def load(folder: Path) -> Segment:
        """Memory-mapped: a fresh process reads the pages a query touches, not the whole index."""
        arrays = {
            n: np.load(folder / f"{n}.npy", mmap_mode="r", allow_pickle=False)
            for n in ("ids", "keys", "lengths", "indptr", "docs", "tfs")
        }
        strings = json.loads((folder / "strings.json").read_text(encoding="utf-8"))
        return Segment(tokens=strings["tokens"], products=strings["products"], **arrays)


def key_digests(keys: Sequence[str]) -> np.ndarray:
    """A store's own change keys (e.g. a content hash with the product) as fixed-size digests."""
    return np.array([hashlib.blake2b(k.encode(), digest_size=16).digest() for k in keys], dtype="S16")


def row_keys(rows: Sequence[tuple[str, str, str | None]]) -> np.ndarray:
    """What a document's score depends on (its text) and what retrieval filters on (its product)."""
    digests = (
        hashlib.blake2b(f"{text}\x1f{product or ''}".encode(), digest_size=16).digest() for _, text, product in rows
    )
    return np.array(list(digests), dtype="S16")


class LexicalIndex:
    """BM25 over the live documents of one or more segments, ids in a fixed order.

    `LexicalIndex(ids, texts, tokenizer)` indexes a list as given (its order is kept);
    `LexicalIndex.of(parts)` combines segments, live documents only, in id order (the order a
    full rebuild from the database would have, so equal scores break the same way).
    """

    def __init__(
        self, ids: Sequence[str], texts: Sequence[str], tokenizer: str = "bigram", products: Sequence[Any] = ()
    ) -> None:
        rows = [(i, t, p) for i, t, p in zip(ids, texts, list(products) or [None] * len(ids), strict=True)]
        segment = Segment.build(rows, tokenizer)
        self._setup(tokenizer, [(segment, np.ones(len(segment), dtype=bool))], np.arange(len(segment)))

    @classmethod
    def of(cls, parts: Sequence[tuple[Segment, np.ndarray]], tokenizer: str) -> LexicalIndex:
        index = cls.__new__(cls)
        all_ids = np.concatenate([np.asarray(s.ids) for s, _ in parts]) if parts else np.array([], dtype=str)
        live = np.flatnonzero(np.concatenate([a for _, a in parts])) if parts else np.array([], dtype=np.int64)
        index._setup(tokenizer, parts, live[np.argsort(all_ids[live], kind="stable")])
        return index

    def _setup(self, tokenizer: str, parts: Sequence[tuple[Segment, np.ndarray]], order: np.ndarray) -> None:
        self._tokenize = TOKENIZERS[tokenizer]
        self._parts = list(parts)
        self._order = order  # position in the concatenated segments, for each exposed document
        all_ids = np.concatenate([np.asarray(s.ids) for s, _ in parts]) if parts else np.array([], dtype=str)
        self.ids: list[str] = all_ids[order].tolist()
        products = [p for s, _ in parts for p in s.products]
        self.products: list[str | None] = [products[i] for i in order.tolist()]
        self._n = int(sum(a.sum() for _, a in parts))
        total = sum(int(np.asarray(s.lengths, dtype=np.int64)[a].sum()) for s, a in parts)
        average = total / self._n if self._n else 1.0
        # Per document, the part of the denominator that does not depend on the token.
        self._norms = [K1 * ((1 - B) + B * np.asarray(s.lengths, dtype=np.float64) / average) for s, _ in parts]

    def scores(self, query: str) -> np.ndarray:
        tokens = self._tokenize(query)
        # float32 per (document, token) and float32 sums in query-token order: bm25s's arithmetic,
        # so near-equal scores order as they did with bm25s.
        combined = np.zeros(sum(len(s) for s, _ in self._parts), dtype=np.float32)
        if not self._n or not tokens:
            return combined[self._order]
        offsets = np.cumsum([0] + [len(s) for s, _ in self._parts])
        found: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for token in tokens:  # repeated query tokens count again, as in bm25s
            if token not in found:
                found[token] = self._contributions(token, offsets)
            for docs, values in found[token]:
                combined[docs] += values
        return combined[self._order]

    def _contributions(self, token: str, offsets: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        postings = []
        df = 0
        for (segment, alive), norm, offset in zip(self._parts, self._norms, offsets, strict=False):
            t = segment.vocab.get(token)
            if t is None:
                continue
            docs = np.asarray(segment.docs[segment.indptr[t] : segment.indptr[t + 1]])
            live = alive[docs]
            docs = docs[live]
            tfs = np.asarray(segment.tfs[segment.indptr[t] : segment.indptr[t + 1]], dtype=np.float64)[live]
            df += len(docs)
            postings.append((docs, tfs, norm, offset))
        if not df:
            return []
        idf = float(np.float32(math.log(1 + (self._n - df + 0.5) / (df + 0.5))))
        return [
            (docs + offset, (idf * tfs / (norm[docs] + tfs)).astype(np.float32)) for docs, tfs, norm, offset in postings
        ]
