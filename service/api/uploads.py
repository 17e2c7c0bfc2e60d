"""Reading an uploaded file: refused early when of an unknown type or too large.

The request body as a whole is capped before this runs (service/api/limits.py, max_request_mb);
here each file is held to max_file_mb, checked on the size the form parser recorded before a
byte is read, then again on the bytes as they are read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, HTTPException, UploadFile
from pydantic import AfterValidator

from service.ingest import SUPPORTED

CHUNK = 1024 * 1024
MB = 1024 * 1024
# A file's name is stored as its source or questionnaire name: String(500) in both tables.
MAX_NAME_CHARS = 500
PRODUCT_CHARS = 200  # Source.product, Questionnaire.product, Entry.product


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


# The `product` form field of the upload routes, held to its column (a 422 naming the field otherwise).
ProductForm = Annotated[
    str | None,
    Form(max_length=PRODUCT_CHARS, description="The product the file's answers are about."),
    AfterValidator(_no_nul),
]


def upload_name(upload: UploadFile) -> str:
    """The file's own name, without any client-side folder."""
    return (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


def _too_large(name: str, size: str, max_bytes: int) -> HTTPException:
    return HTTPException(
        413, f"{name or 'the upload'}: the file is {size}; the limit is {max_bytes / MB:.0f} MB (max_file_mb)"
    )


async def read_upload(upload: UploadFile, max_bytes: int) -> tuple[str, bytes]:
    """The upload's name and bytes; 415 for an unsupported type, 413 past the size limit."""
    name = upload_name(upload)
    if "\x00" in name:
        raise HTTPException(422, f"{name.replace(chr(0), '%00')!r}: a file name must not contain NUL characters")
    if len(name) > MAX_NAME_CHARS:
        raise HTTPException(
            422, f"{name[:60]}...: the file name is {len(name)} characters; the limit is {MAX_NAME_CHARS}"
        )
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SUPPORTED:
        raise HTTPException(415, f"{name or 'the upload'}: unsupported file type; supported: {', '.join(SUPPORTED)}")
    if upload.size is not None and upload.size > max_bytes:
        raise _too_large(name, f"{upload.size / MB:.1f} MB", max_bytes)
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data.extend(chunk)
        if len(data) > max_bytes:
            raise _too_large(name, f"over {max_bytes / MB:.0f} MB", max_bytes)
    return name, bytes(data)
