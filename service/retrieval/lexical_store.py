"""The persisted, incremental side of BM25: one index per workspace, kept up to date by revision.

See `service.retrieval.lexical` for why the index keeps raw term counts in segments: a large base
(memory-mapped from disk) and a small delta of what changed since, ranked together exactly as a
full rebuild would rank them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.retrieval.lexical import LexicalIndex, Segment, key_digests

log = logging.getLogger(__name__)

# How segments key their documents: digests of the corpus's own change keys (`LexicalRow.key`).
# An index saved with another kind of key is rebuilt, never compared key by key.
KEYS_FORMAT = "corpus-key-1"


@dataclass
class LexicalSnapshot:
    """One workspace's index at one revision (what the retriever ranks with)."""

    revision: int
    tokenizer: str
    index: LexicalIndex
    products: list[str | None]


@dataclass
class _State:
    revision: int
    base: Segment
    base_alive: np.ndarray
    delta: Segment | None
    snapshot: LexicalSnapshot
    # Folder names of the saved segments (None: not saved yet): a state saved again writes only what is new.
    base_name: str | None = None
    delta_name: str | None = None
    generation: str = ""  # see LexicalStore.snapshot


class LexicalStore:
    """Per-workspace BM25 indexes kept up to date by revision, persisted under `folder` (None: in memory).

    On a new revision the stored rows are diffed with the index by (id, text, product) digest:
    removed and changed documents are masked out of the base, new ones go to a small delta
    segment (tokenized alone), and the delta is merged into the base once it (with the masked
    documents) outgrows `COMPACT_FRACTION` of it. Each state is saved as memory-mapped segments
    and a manifest naming the revision, so a fresh process answers its first query without
    re-reading or re-tokenizing the corpus.
    """

    COMPACT_FRACTION = 0.1
    COMPACT_MIN = 512  # below this many changed documents the delta is never merged

    def __init__(self, folder: Path | str | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._states: dict[tuple[int, str], _State] = {}
        self._lock = threading.Lock()
        # What happened, for logs and benchmarks; `load_failures` counts persisted indexes that
        # could not be read (they are rebuilt).
        self.counts: Counter[str] = Counter()

    def snapshot(
        self, session: Any, corpus: Any, workspace_id: int, revision: int, tokenizer: str, generation: str = ""
    ) -> LexicalSnapshot:
        """The index of a workspace at `revision`. When it lags, `corpus.lexical_keys` tells what
        changed and only the new and changed documents' texts are read (`corpus.lexical_rows`).

        `generation` tells apart workspaces that reuse an id and a revision (a database deleted and
        ingested again): a persisted index of another generation is never loaded.
        """
        key = (workspace_id, tokenizer)
        with self._lock:
            state = self._states.get(key)
            if state is not None and state.generation != generation:
                state = None
            if state is None and self.folder is not None:
                state = self._load(workspace_id, tokenizer, generation)
            if state is not None and state.revision == revision:
                self._states[key] = state
                return state.snapshot
            state = self._update(state, session, corpus, workspace_id, revision, tokenizer)
            state.generation = generation
            self._states[key] = state
            if self.folder is not None:
                self._save(workspace_id, tokenizer, state)
            return state.snapshot

    def _update(
        self, state: _State | None, session: Any, corpus: Any, workspace_id: int, revision: int, tokenizer: str
    ) -> _State:
        if state is None:
            self.counts["full_builds"] += 1
            rows = corpus.lexical_rows(session, workspace_id)
            self.counts["texts_read"] += len(rows)
            keys = key_digests([r.key for r in rows])
            base = Segment.build([(r.id, r.text, r.product) for r in rows], tokenizer, keys)
            return _make_state(revision, tokenizer, base, np.ones(len(base), dtype=bool), None)
        self.counts["incremental_updates"] += 1
        pairs = corpus.lexical_keys(session, workspace_id)
        wanted = dict(zip((i for i, _ in pairs), key_digests([k for _, k in pairs]).tolist(), strict=True))
        base_alive = state.base_alive & np.fromiter(
            (wanted.get(i) == k for i, k in zip(state.base.ids.tolist(), state.base.keys.tolist(), strict=True)),
            dtype=bool,
            count=len(state.base),
        )
        kept = set(np.asarray(state.base.ids)[base_alive].tolist())
        parts: list[tuple[Segment, np.ndarray]] = []
        if state.delta is not None:
            old = state.delta
            delta_alive = np.fromiter(
                (wanted.get(i) == k for i, k in zip(old.ids.tolist(), old.keys.tolist(), strict=True)),
                dtype=bool,
                count=len(old),
            )
            parts.append((old, delta_alive))
            kept.update(np.asarray(old.ids)[delta_alive].tolist())
        new_ids = [i for i in wanted if i not in kept]
        new_rows = corpus.lexical_rows(session, workspace_id, new_ids) if new_ids else []
        self.counts["texts_read"] += len(new_rows)
        if new_rows:
            keys = key_digests([r.key for r in new_rows])
            fresh = Segment.build([(r.id, r.text, r.product) for r in new_rows], tokenizer, keys)
            parts.append((fresh, np.ones(len(fresh), dtype=bool)))
        delta = Segment.merge(parts) if parts else None
        changed = (len(delta) if delta is not None else 0) + int((~base_alive).sum())
        if changed > max(self.COMPACT_MIN, self.COMPACT_FRACTION * len(state.base)):
            self.counts["compactions"] += 1
            parts = [(state.base, base_alive)] + ([(delta, np.ones(len(delta), dtype=bool))] if delta else [])
            base = Segment.merge(parts)
            return _make_state(revision, tokenizer, base, np.ones(len(base), dtype=bool), None)
        delta = delta if delta is not None and len(delta) else None
        return _make_state(revision, tokenizer, state.base, base_alive, delta, base_name=state.base_name)

    # Persistence: segments are written once, under a fresh name, then the manifest is replaced
    # atomically; a reader sees the old state or the new one, never half of one.

    def _dir(self, workspace_id: int, tokenizer: str) -> Path:
        assert self.folder is not None
        return self.folder / f"ws{workspace_id}-{tokenizer}"

    def _load(self, workspace_id: int, tokenizer: str, generation: str) -> _State | None:
        folder = self._dir(workspace_id, tokenizer)
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            return None
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("keys") != KEYS_FORMAT:
                self.counts["other_format"] += 1
                log.info("lexical index in %s keys its documents another way: rebuilding it", folder)
                return None
            if manifest.get("generation", "") != generation:
                self.counts["other_generation"] += 1
                log.info("lexical index in %s belongs to an earlier workspace of that id: rebuilding it", folder)
                return None
            base = Segment.load(folder / manifest["base"])
            alive = np.ones(len(base), dtype=bool)
            alive[np.asarray(manifest["base_dead"], dtype=np.int64)] = False
            delta = Segment.load(folder / manifest["delta"]) if manifest["delta"] else None
        except (OSError, ValueError, KeyError, IndexError) as exc:
            self.counts["load_failures"] += 1
            log.warning("lexical index in %s unreadable (%s): rebuilding it from the database", folder, exc)
            return None
        self.counts["loads"] += 1
        state = _make_state(
            int(manifest["revision"]), tokenizer, base, alive, delta, manifest["base"], manifest["delta"]
        )
        state.generation = generation
        return state

    def _save(self, workspace_id: int, tokenizer: str, state: _State) -> None:
        folder = self._dir(workspace_id, tokenizer)
        try:
            if state.base_name is None:
                state.base_name = f"seg-{uuid.uuid4().hex}"
                state.base.save(folder / state.base_name)
            if state.delta is not None and state.delta_name is None:
                state.delta_name = f"seg-{uuid.uuid4().hex}"
                state.delta.save(folder / state.delta_name)
            manifest = {
                "revision": state.revision,
                "keys": KEYS_FORMAT,
                "generation": state.generation,
                "tokenizer": tokenizer,
                "base": state.base_name,
                "base_dead": np.flatnonzero(~state.base_alive).tolist(),
                "delta": state.delta_name if state.delta is not None else None,
            }
            temporary = folder / f"manifest.{uuid.uuid4().hex}.tmp"
            temporary.write_text(json.dumps(manifest), encoding="utf-8")
            os.replace(temporary, folder / "manifest.json")
            self._collect(folder, {state.base_name, state.delta_name})
        except OSError as exc:
            # The in-memory index is current; only the next fresh process pays for a rebuild.
            self.counts["save_failures"] += 1
            log.warning("lexical index could not be saved in %s (%s); it stays in memory", folder, exc)

    @staticmethod
    def _collect(folder: Path, referenced: set[str | None]) -> None:
        """Remove segments no manifest names any more, once no reader can still be opening them."""
        cutoff = time.time() - 60
        for path in folder.glob("seg-*"):
            if path.name not in referenced and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)


def _make_state(
    revision: int,
    tokenizer: str,
    base: Segment,
    base_alive: np.ndarray,
    delta: Segment | None,
    base_name: str | None = None,
    delta_name: str | None = None,
) -> _State:
    parts = [(base, base_alive)] + ([(delta, np.ones(len(delta), dtype=bool))] if delta is not None else [])
    index = LexicalIndex.of(parts, tokenizer)
    snapshot = LexicalSnapshot(revision, tokenizer, index, index.products)
    return _State(revision, base, base_alive, delta, snapshot, base_name, delta_name)
