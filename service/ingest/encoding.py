"""Decoding text files the way Japanese users produce them: UTF-8, UTF-8 with BOM, or CP932."""

from __future__ import annotations

import charset_normalizer


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding). Tries the encodings Japanese Excel and editors write before guessing."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8", "cp932"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise UnicodeDecodeError("unknown", data[:1], 0, 1, "not a text file in any known encoding")
    return str(best), best.encoding
