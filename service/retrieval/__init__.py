"""Hybrid retrieval over one workspace's documents.

Public surface: `Retriever(settings, embeddings, vectors, corpus).search(session, workspace, text, k, product)`
-> list[SearchHit]; `Corpus`, `LexicalRow` and `WorkspaceState` (what a store provides); `product_matches`; `tokenize`;
`LexicalStore(folder).snapshot(...)`: per-workspace BM25, persisted and updated incrementally by revision.
The dense side searches one or more vector views per query language (settings `dense_views_ja`,
`dense_views_en`; see service/embeddings/views.py), each a ranking of its own in the fusion.
"""

from service.retrieval.corpus import Corpus, LexicalRow, WorkspaceState, product_matches
from service.retrieval.lexical import tokenize
from service.retrieval.lexical_store import LexicalSnapshot, LexicalStore
from service.retrieval.retriever import Retriever, SearchHit

__all__ = [
    "Corpus",
    "LexicalRow",
    "LexicalSnapshot",
    "LexicalStore",
    "Retriever",
    "SearchHit",
    "WorkspaceState",
    "product_matches",
    "tokenize",
]
