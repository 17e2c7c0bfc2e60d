"""An xlsx workbook read as a stream of XML events, keeping only the cells that hold a value.

openpyxl builds a sheet as a full grid from A1 to its furthest cell, and trusts what the sheet
declares; a 5 KB file with one value in B2 and one in XFD20000 then costs gigabytes. Here every
part (workbook, relationships, styles, shared strings, sheets) is parsed as a bounded stream:
cells are counted as they arrive and a value beyond the row or column limit is refused on the
spot, naming the cell. Merged cells and drop-down lists (data validations) are read from the same
pass, so nothing has to load the workbook whole. Cell values follow openpyxl's `data_only`
reading (cached formula results, dates from the cell's number format).
"""

from __future__ import annotations

import datetime as dt
import posixpath
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601

from service.ingest.archive import local, release, xml_events
from service.ingest.limits import Limits
from service.ingest.model import IngestError

# Elements one cell, shared string or validation may hold (rich-text runs, phonetic guides):
# a handful in real files; the bound keeps one hostile cell from growing the tree unchecked.
MAX_ITEM_ELEMENTS = 10_000
# Excel caps number format codes at 255 characters; longer ones are not read as dates (the date
# test is a regular expression that would be slow on a long hostile code).
MAX_FORMAT_CODE = 255

Path = tuple[str, ...]


@dataclass
class SheetInfo:
    name: str
    part: str
    visible: bool


@dataclass
class Book:
    sheets: list[SheetInfo]
    strings: list[str]
    date_styles: set[int]
    timedelta_styles: set[int]
    epoch: dt.datetime


@dataclass
class Sheet:
    """The values of one sheet, sparse: row -> column -> value (1-based), empty cells left out."""

    name: str
    values: dict[int, dict[int, object]] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # min_col, min_row, max_col, max_row
    validations: list[tuple[str, str]] = field(default_factory=list)  # (sqref, formula1) of list validations
    max_row: int = 0
    max_col: int = 0


def walk(
    file: str, archive: zipfile.ZipFile, member: str, budget: int, ends: Collection[Path], starts: Collection[Path] = ()
) -> Iterator[tuple[str, str, etree._Element]]:
    """('start' | 'end', name, element) for the elements at the paths asked for (below the root).

    An element in `ends` is yielded once complete, with its children; every other element is
    dropped as soon as it closes, so memory holds one item at a time whatever the part's size.
    """
    path: list[str] = []
    keep_depth = 0  # depth of the element being gathered for an `ends` yield; 0 when none
    kept = 0
    for event, element in xml_events(file, archive, member, budget):
        if event == "start":
            path.append(local(element.tag))
            if keep_depth:
                kept += 1
                if kept > MAX_ITEM_ELEMENTS:
                    raise IngestError(file, f"the part {member} has an item of more than {MAX_ITEM_ELEMENTS} elements")
                continue
            key = tuple(path[1:])
            if key in ends:
                keep_depth, kept = len(path), 0
            if key in starts:
                yield "start", path[-1], element
            continue
        depth = len(path)
        if keep_depth and depth > keep_depth:
            path.pop()  # inside an item still being gathered: kept until the item closes
            continue
        name = path.pop()
        if keep_depth == depth:
            keep_depth = 0
            yield "end", name, element
        release(element)


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _relationships(
    file: str, archive: zipfile.ZipFile, names: set[str], part: str, limits: Limits
) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, part path) of one part ('' for the package itself)."""
    rels_path = posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")
    if rels_path not in names:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for _, _, element in walk(file, archive, rels_path, limits.max_cells, {("Relationship",)}):
        if element.get("TargetMode") != "External":
            found[element.get("Id") or ""] = (element.get("Type") or "", _resolve(part, element.get("Target") or ""))
    return found


def _part_of_type(rels: dict[str, tuple[str, str]], names: set[str], kind: str, default: str) -> str | None:
    found = next((target for typ, target in rels.values() if typ.endswith(kind)), default)
    return found if found in names else None


def rich_text(element: etree._Element) -> str:
    """The text of a shared or inline string: its <t>, or the <t> of each run; phonetic guides
    (<rPh>, the furigana over Japanese text) are not part of it."""
    parts: list[str] = []
    for child in element:
        name = local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if local(t.tag) == "t")
    return "".join(parts)


def _shared_strings(file: str, archive: zipfile.ZipFile, part: str | None, limits: Limits) -> list[str]:
    if part is None:
        return []
    strings: list[str] = []
    budget = max(limits.max_cells, 16 * limits.max_shared_strings)
    for _, _, element in walk(file, archive, part, budget, {("si",)}):
        if len(strings) >= limits.max_shared_strings:
            raise IngestError(
                file,
                f"the workbook holds more than {limits.max_shared_strings} shared strings (limit max_shared_strings)",
            )
        strings.append(rich_text(element).replace("x005F_", ""))  # as openpyxl reads them
    return strings


def _date_styles(file: str, archive: zipfile.ZipFile, part: str | None, limits: Limits) -> tuple[set[int], set[int]]:
    """Indexes of the cell formats that show a number as a date (and as a duration)."""
    if part is None:
        return set(), set()
    custom: dict[int, str] = {}
    format_ids: list[int] = []
    for _, name, element in walk(file, archive, part, limits.max_cells, {("numFmts", "numFmt"), ("cellXfs", "xf")}):
        try:
            number = int(element.get("numFmtId") or 0)
        except ValueError:
            number = 0
        if name == "numFmt":
            custom[number] = element.get("formatCode") or ""
        else:
            format_ids.append(number)
    dates: set[int] = set()
    durations: set[int] = set()
    for index, number in enumerate(format_ids):
        code = custom.get(number, BUILTIN_FORMATS.get(number))
        if code is None or len(code) > MAX_FORMAT_CODE:
            continue
        if is_date_format(code):
            dates.add(index)
        if is_timedelta_format(code):
            durations.add(index)
    return dates, durations


def read_book(file: str, archive: zipfile.ZipFile, limits: Limits) -> Book:
    names = set(archive.namelist())
    package = _relationships(file, archive, names, "", limits)
    workbook = _part_of_type(package, names, "/officeDocument", "xl/workbook.xml")
    if workbook is None:
        raise IngestError(file, "not a valid .xlsx workbook (it has no workbook part)")
    rels = _relationships(file, archive, names, workbook, limits)
    sheets: list[SheetInfo] = []
    titles: dict[str, str] = {}  # casefolded name -> the name as first seen, over every kind of sheet
    epoch = WINDOWS_EPOCH
    for _, name, element in walk(file, archive, workbook, limits.max_cells, {("sheets", "sheet"), ("workbookPr",)}):
        if name == "workbookPr":
            if (element.get("date1904") or "").lower() in ("1", "true"):
                epoch = CALENDAR_MAC_1904
            continue
        title = element.get("name") or ""
        _refuse_duplicate(file, titles, title)
        rel_id = next((v for k, v in element.attrib.items() if k.startswith("{") and local(k) == "id"), "")
        kind, target = rels.get(rel_id, ("", ""))
        if not kind.endswith("/worksheet"):
            continue  # chart, dialog and macro sheets hold no table
        if target not in names:
            raise IngestError(file, f"not a valid .xlsx workbook (the part of sheet '{title}' is missing)")
        sheets.append(SheetInfo(title, target, (element.get("state") or "visible") == "visible"))
    strings = _shared_strings(
        file, archive, _part_of_type(rels, names, "/sharedStrings", "xl/sharedStrings.xml"), limits
    )
    dates, durations = _date_styles(file, archive, _part_of_type(rels, names, "/styles", "xl/styles.xml"), limits)
    return Book(sheets, strings, dates, durations, epoch)


def _refuse_duplicate(file: str, titles: dict[str, str], title: str) -> None:
    """Excel refuses two sheets whose names differ only in case, but a hand-made file can carry them;
    answers are written back by sheet name, so the second sheet's would land in the first."""
    key = title.casefold()
    if key not in titles:
        titles[key] = title
        return
    first, title = titles[key][:80], title[:80]
    named = f"'{title}'" if first == title else f"'{first}' and '{title}'"
    raise IngestError(
        file,
        f"two sheets are named {named} (Excel compares sheet names ignoring case): their answers could not be "
        "told apart; rename one of the sheets in Excel",
    )


def _value(element: etree._Element, book: Book) -> object:
    """A cell's value as openpyxl reads it with data_only=True (a formula gives its cached result)."""
    kind = element.get("t") or "n"
    if kind == "inlineStr":
        box = next((c for c in element if local(c.tag) == "is"), None)
        return rich_text(box) if box is not None else None
    text = next((c.text for c in element if local(c.tag) == "v"), None)
    if not text:
        return None
    if kind == "n":
        number: int | float = float(text) if ("." in text or "e" in text or "E" in text) else int(text)
        style = int(element.get("s") or 0)
        if style in book.date_styles:
            try:
                return from_excel(number, book.epoch, timedelta=style in book.timedelta_styles)
            except (OverflowError, ValueError):
                return "#VALUE!"  # what openpyxl gives for a date outside the calendar
        return number
    if kind == "s":
        return book.strings[int(text)]
    if kind == "b":
        return bool(int(text))
    if kind == "d":
        return from_ISO8601(text)
    return text  # "str" (a formula's text), "e" (an error such as #N/A)


def _bounds(ref: str) -> tuple[int, int, int, int] | None:
    try:
        min_col, min_row, max_col, max_row = range_boundaries(ref)
    except (ValueError, TypeError):
        return None
    if None in (min_col, min_row, max_col, max_row):
        return None  # a whole row or column: never a merge, and not a place to look up values
    return min_col, min_row, max_col, max_row


def read_sheet(file: str, archive: zipfile.ZipFile, info: SheetInfo, book: Book, limits: Limits) -> Sheet:
    sheet = Sheet(info.name)
    cells = merged_area = row_number = column = 0
    ends = {("sheetData", "row", "c"), ("mergeCells", "mergeCell"), ("dataValidations", "dataValidation")}
    events = walk(file, archive, info.part, 8 * limits.max_cells, ends, {("sheetData", "row")})
    for _, name, element in events:
        if name == "row":
            row_attr = element.get("r")
            row_number = int(row_attr) if row_attr and row_attr.isdigit() else row_number + 1
            column = 0
        elif name == "c":
            cells += 1
            if cells > limits.max_cells:
                raise IngestError(
                    file, f"more than {limits.max_cells} cells (limit max_cells)", sheet=info.name, row=row_number
                )
            ref = element.get("r")
            try:
                row, column = coordinate_to_tuple(ref) if ref else (row_number, column + 1)
                value = _value(element, book)
            except (ValueError, TypeError, IndexError, OverflowError) as exc:
                raise IngestError(
                    file, f"cell {ref or column} cannot be read ({type(exc).__name__}: {exc})", sheet=info.name
                ) from exc
            if value is None or value == "":
                continue  # an empty (formatted) cell: it does not widen the grid
            _check_place(file, info.name, f"a value in cell {get_column_letter(column)}{row}", row, column, limits)
            sheet.values.setdefault(row, {})[column] = value
            sheet.max_row, sheet.max_col = max(sheet.max_row, row), max(sheet.max_col, column)
        elif name == "mergeCell":
            bounds = _bounds(element.get("ref") or "")
            if bounds is None:
                continue
            min_col, min_row, max_col, max_row = bounds
            _check_place(file, info.name, f"the merged range {element.get('ref')}", max_row, max_col, limits)
            merged_area += (max_row - min_row + 1) * (max_col - min_col + 1)
            if merged_area > limits.max_cells:
                raise IngestError(
                    file, f"merged ranges cover more than {limits.max_cells} cells (limit max_cells)", sheet=info.name
                )
            sheet.merges.append(bounds)
            sheet.max_row, sheet.max_col = max(sheet.max_row, max_row), max(sheet.max_col, max_col)
        elif element.get("type") == "list":
            formula = next((c.text for c in element if local(c.tag) == "formula1"), None)
            if formula:
                sheet.validations.append((element.get("sqref") or "", formula))
    return sheet


def _check_place(file: str, sheet: str, what: str, row: int, column: int, limits: Limits) -> None:
    if row > limits.max_rows:
        raise IngestError(file, f"{what} is in row {row}; the limit is {limits.max_rows} rows (max_rows)", sheet=sheet)
    if column > limits.max_columns:
        raise IngestError(
            file,
            f"{what} is in column {column}; the limit is {limits.max_columns} columns (max_columns)",
            sheet=sheet,
        )


def list_values(sheet: Sheet, ref: str) -> list[object]:
    """The values inside a range of the sheet, row by row; only cells that hold one are visited."""
    try:
        min_col, min_row, max_col, max_row = range_boundaries(ref)
    except (ValueError, TypeError):
        return []
    # A whole column ("$F:$F") or row leaves the other bounds open.
    min_col, min_row = min_col or 1, min_row or 1
    max_col, max_row = max_col or sheet.max_col, max_row or sheet.max_row
    return [
        sheet.values[r][c]
        for r in sorted(r for r in sheet.values if min_row <= r <= max_row)
        for c in sorted(c for c in sheet.values[r] if min_col <= c <= max_col)
    ]


def sqref_columns(sqref: str) -> set[int]:
    """0-based columns covered by a space-separated list of ranges ("C2:C40 E2:E40")."""
    columns: set[int] = set()
    for ref in sqref.split():
        try:
            min_col, _, max_col, _ = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        if min_col is not None and max_col is not None:
            columns.update(range(min_col - 1, max_col))
    return columns
