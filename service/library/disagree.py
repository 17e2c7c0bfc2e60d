"""Disagreements between two answers of one cluster, beyond opposite Yes/No choices.

- `facts`: one states a fact the other denies (service/drafting/flags.py `opposite_facts`:
  "暗号化しています" against "暗号化されずに保管").
- `offered`: one says a thing is possible or provided, the other that it is not
  ("二要素認証が可能" against "ワンタイムパスワードによるログインは提供しておりません").
- `period`: both state how long something is kept, and no period is the same
  ("保管期間1年" against "半年間保存" against "保存期間の制限なし").
Read from the seeds (eval/labels/library_conflicts.json); each test is on the answer text only.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_OFFERED = re.compile(
    r"(?:おりません|ていません|ございません|できません|行えません|不可)"
    r"|\bnot\s+(?:available|supported|offered|provided|possible)\b|\bcannot\b"
)
_OFFERED = re.compile(
    r"可能|できます|提供して(?:い|おり)ます|対応して(?:い|おり)ます|\b(?:is|are)\s+(?:available|supported|possible)\b"
)
_KEEP = r"(?:保存|保管|保持|retain|retained|kept|stored)"
_SPAN = r"(?:\d+|半)\s*(?:年|ヶ月|か月|カ月|日|years?|months?|days?)"
_PERIOD = re.compile(
    rf"{_KEEP}[^。\n]{{0,10}}?({_SPAN})|({_SPAN})間?[^。\n]{{0,4}}?{_KEEP}|({_KEEP}期間の?制限(?:なし|はありません))"
)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def offered(text: str) -> int:
    """+1: says it is possible or provided; -1: says it is not; 0: says both or neither."""
    norm = _norm(text)
    no, yes = bool(_NOT_OFFERED.search(norm)), bool(_OFFERED.search(norm))
    return -1 if no and not yes else (1 if yes and not no else 0)


def periods(text: str) -> set[str]:
    """How long the text says something is kept ("1年", "半年", "unlimited")."""
    found = set()
    for match in _PERIOD.finditer(_norm(text)):
        found.add(re.sub(r"\s+", "", match.group(1) or match.group(2) or "") or "unlimited")
    return found


def text_disagreement(question: str, first: str, second: str) -> str | None:
    """Why two answer texts disagree, or None."""
    from service.drafting.flags import opposite_facts  # here: drafting may import the library

    if opposite_facts(question, [first, second]):
        return "facts"
    if offered(first) * offered(second) == -1:
        return "offered"
    kept_first, kept_second = periods(first), periods(second)
    if kept_first and kept_second and not kept_first & kept_second:
        return "period"
    return None
