"""Reading an uploaded file: refused early when of an unknown type or too large."""

from __future__ import annotations

from fastapi import HTTPException, UploadFile

from service.ingest import SUPPORTED

CHUNK = 1024 * 1024


def upload_name(upload: UploadFile) -> str:
    """The file's own name, without any client-side folder."""
    return (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]


async def read_upload(upload: UploadFile, max_bytes: int) -> tuple[str, bytes]:
    """The upload's name and bytes; 415 for an unsupported type, 413 past the size limit."""
    name = upload_name(upload)
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SUPPORTED:
        raise HTTPException(415, f"{name or 'the upload'}: unsupported file type; supported: {', '.join(SUPPORTED)}")
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data.extend(chunk)
        if len(data) > max_bytes:
            raise HTTPException(413, f"{name}: larger than the {max_bytes // (1024 * 1024)} MB limit")
    return name, bytes(data)
