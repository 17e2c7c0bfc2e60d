"""Reading an uploaded file: refused early when of an unknown type or too large.

The request body as a whole is capped before this runs (service/api/limits.py, max_request_mb);
here each file is held to max_file_mb, checked on the size the form parser recorded before a
byte is read, then again on the bytes as they are read.
"""

from __future__ import annotations

from fastapi import HTTPException, UploadFile

from service.ingest import SUPPORTED

CHUNK = 1024 * 1024
MB = 1024 * 1024


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
