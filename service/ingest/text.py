"""Small text helpers shared by the parsers: cleaning cells, language, dates."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import date

# A markup tag; "<" is excluded from the inside so that a run of "<" costs one scan, not 400 each.
_TAG = re.compile(r"<[^<>]{0,400}>")
_WS = re.compile(r"[ \t\u3000]+")
# Control characters no one reads (NUL, backspace, escape...): a hostile or broken file's, never an
# answer's. Dropped here, so the CLI drafts, and the API stores, the same text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def clean_cell(value: object) -> str:
    """A cell as a person reads it: HTML markup from web exports removed, spaces folded."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if not text or text.isspace():
        return ""  # most cells of a wide table: skip the work below
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = _CONTROL.sub("", text)
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line).strip()


def detect_language(text: str) -> str:
    """'ja' or 'en' (or 'und'): the two languages our users write in.

    Script counting is exact for telling Japanese from English and needs no model; any kana, or
    a fair share of kanji, marks Japanese.
    """
    if not text:
        return "und"
    kana = len(_KANA.findall(text))
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    if kana or (han and han * 3 >= latin):
        return "ja"
    if latin:
        return "en"
    return "und"


def normalize(text: str) -> str:
    """NFKC and lower case: full-width letters and digits compare equal to half-width ones."""
    return unicodedata.normalize("NFKC", text).lower()


_DATE_PATTERNS = [
    re.compile(r"(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"),
    re.compile(r"(?P<y>(?:19|20)\d{2})[/\-.](?P<m>\d{1,2})[/\-.](?P<d>\d{1,2})"),
]
_DATE_LABEL = re.compile(
    r"(最終更新日|最終更新|更新日|改訂日|作成日|回答日|記入日|last\s*updated|updated|revised|date)", re.IGNORECASE
)


def find_dates(text: str) -> list[date]:
    found: list[date] = []
    norm = unicodedata.normalize("NFKC", text)
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(norm):
            try:
                found.append(date(int(m["y"]), int(m["m"]), int(m["d"])))
            except ValueError:
                continue
    return found


def labelled_date(text: str) -> date | None:
    """The date in a line such as '最終更新日：2019年10月03日' or 'Last updated: 2024-05-27'."""
    if not _DATE_LABEL.search(unicodedata.normalize("NFKC", text)):
        return None
    dates = find_dates(text)
    return dates[0] if dates else None
