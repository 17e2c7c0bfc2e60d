"""Hybrid retrieval over one workspace's knowledge base.

Public surface: `Retriever.search(session, workspace, text, k, product)` -> list[SearchHit].
"""

from service.retrieval.retriever import Retriever, SearchHit

__all__ = ["Retriever", "SearchHit"]
