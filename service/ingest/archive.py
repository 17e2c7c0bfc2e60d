"""Zip containers (xlsx, docx): sizes checked before anything is unpacked, XML read as a bounded stream.

What a zip says about itself is checked against the limits before a byte is inflated: the number
of members, their uncompressed total, and how tightly each large member is packed (a zip bomb
inflates a few kilobytes into gigabytes). Python's zipfile never inflates a member past the size
it declares, so the declared sizes are a true bound. The XML parts are then read as a stream of
events with a budget on elements and every element dropped once read, so memory stays flat
however the part is shaped.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from struct import error as struct_error

from lxml import etree

from service.ingest.limits import Limits, megabytes
from service.ingest.model import IngestError

# Small members may be packed tightly without harm (an empty sheet is 99% markup); the ratio
# check applies from this uncompressed size on.
RATIO_FLOOR = 1024 * 1024


def _declared_entries(data: bytes) -> int | None:
    """The member count from the end-of-archive record, read before zipfile builds its index."""
    try:
        # zipfile's own reader of that record: private, but stable since Python 2, and the only
        # way to learn the count without parsing every entry of the central directory.
        record = zipfile._EndRecData(io.BytesIO(data))  # type: ignore[attr-defined]
    except (OSError, ValueError, struct_error):
        return None
    return int(record[zipfile._ECD_ENTRIES_TOTAL]) if record else None  # type: ignore[attr-defined]


def open_archive(file: str, data: bytes, limits: Limits, kind: str) -> zipfile.ZipFile:
    """The zip, once its members are known to unpack within the limits."""
    entries = _declared_entries(data)
    if entries is not None and entries > limits.max_zip_entries:
        raise IngestError(
            file, f"the {kind} holds {entries} parts; the limit is {limits.max_zip_entries} (max_zip_entries)"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise IngestError(file, f"not a valid {kind} (the zip container is damaged: {exc})") from exc
    members = archive.infolist()
    if len(members) > limits.max_zip_entries:
        raise IngestError(
            file, f"the {kind} holds {len(members)} parts; the limit is {limits.max_zip_entries} (max_zip_entries)"
        )
    for info in members:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_FLOOR and ratio > limits.max_zip_ratio:
            raise IngestError(
                file,
                f"the part {info.filename} is compressed {ratio:.0f}:1 ({megabytes(info.file_size)} "
                f"packed into {info.compress_size} bytes); the limit is {limits.max_zip_ratio}:1 "
                f"(max_zip_ratio), refused as a possible zip bomb",
            )
    total = sum(info.file_size for info in members)
    if total > limits.max_unzipped_bytes:
        raise IngestError(
            file,
            f"the {kind} unpacks to {megabytes(total)}; the limit is {megabytes(limits.max_unzipped_bytes)} "
            f"(max_unzipped_mb), refused as a possible zip bomb",
        )
    return archive


def local(tag: object) -> str:
    """An element's name without its namespace (strict and transitional OOXML differ only there)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def release(element: etree._Element) -> None:
    """Drop an element already read, and the siblings before it, so the tree never grows."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def xml_events(file: str, archive: zipfile.ZipFile, member: str, budget: int) -> Iterator[tuple[str, etree._Element]]:
    """('start' | 'end', element) for one XML member, refusing a part of more than `budget` elements.

    libxml2's own limits stay on (no huge_tree: depth 256, text nodes of 10 MB), entities are
    not expanded and nothing is fetched from the network.
    """
    try:
        stream = archive.open(member)
    except KeyError as exc:
        raise IngestError(file, f"the part {member} is missing (the file is damaged)") from exc
    count = 0
    with stream:
        parser = etree.iterparse(
            stream,
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            for event, element in parser:
                if event == "start":
                    count += 1
                    if count > budget:
                        raise IngestError(
                            file, f"the part {member} holds more than {budget} XML elements (limit max_cells)"
                        )
                yield event, element
        except etree.XMLSyntaxError as exc:
            raise IngestError(file, f"the part {member} is not valid XML ({exc})") from exc
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise IngestError(file, f"the part {member} cannot be unpacked (the file is damaged: {exc})") from exc


def check_xml_parts(file: str, archive: zipfile.ZipFile, budget: int) -> None:
    """Count the elements of every large XML part before a library loads it whole as a tree.

    A tree costs far more memory than its XML, so a part of a few million tiny elements (cheap
    to pack) would cost gigabytes once loaded; counting as a stream costs nothing of the kind.
    """
    for info in archive.infolist():
        if info.file_size >= RATIO_FLOOR and info.filename.lower().endswith((".xml", ".rels")):
            for event, element in xml_events(file, archive, info.filename, budget):
                if event == "end":
                    release(element)
