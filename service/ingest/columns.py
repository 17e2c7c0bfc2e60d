"""Recognising what a column holds from its header, in Japanese and English sheets."""

from __future__ import annotations

import re
from enum import StrEnum

from service.ingest.text import normalize


class Role(StrEnum):
    ID = "id"
    CATEGORY = "category"
    QUESTION = "question"
    ANSWER = "answer"
    CHOICE = "choice"
    NOTES = "notes"
    UNIT = "unit"
    OTHER = "other"


# Whole-header matches, after NFKC + lower case + removing spaces and brackets' contents.
_EXACT: dict[str, Role] = {}
for _role, _names in {
    Role.ID: "no no. no.# # 項番 番号 項目番号 管理番号 通番 連番 大項番 中項番 小項番 id ref ref. ref# "
    "item# itemno itemno. questionid controlid 質問番号 設問番号",
    Role.CATEGORY: "分類 大分類 中分類 小分類 種別 カテゴリ カテゴリー 区分 領域 大項目 中項目 分野 "
    "category subcategory domain section area controldomain controlfamily topic",
    Role.QUESTION: "質問 質問内容 質問事項 確認事項 確認項目 確認内容 項目 チェック項目 設問 設問内容 要求事項 "
    "要件 内容 概要 規程内容 情報開示項目 サービスレベル項目例 評価項目 管理策 question questions questiontext "
    "control controlquestion requirement requirements item description securityquestion",
    Role.ANSWER: "回答 回答内容 回答欄 対応内容 対応状況 実施状況 詳細 貴社回答 ご回答 回答・説明 説明 "
    "answer answers response responses vendorresponse answer/response details detail explanation",
    Role.CHOICE: "はい/いいえ yes/no y/n ○/× 〇/× ○×",
    Role.NOTES: "備考 補足 備考・補足 補足・備考 注記 コメント 備考欄 notes note comments comment remarks "
    "remark additionalinformation additionalcomments evidence",
    Role.UNIT: "測定単位 単位 unit units",
}.items():
    for _name in _names.split():
        _EXACT[_name] = _role

# Contains-matches, tried in order when no whole-header match exists.
_CONTAINS: list[tuple[Role, re.Pattern[str]]] = [
    (Role.CHOICE, re.compile(r"はい/いいえ|yes/no|y/n|○/×|〇/×|○×|有/無|選択")),
    (Role.NOTES, re.compile(r"備考|補足|コメント|note|comment|remark")),
    (Role.ANSWER, re.compile(r"回答|answer|response|対応内容|対応状況|実施状況")),
    (Role.QUESTION, re.compile(r"質問|設問|確認事項|確認項目|question|requirement|チェック項目")),
    (Role.CATEGORY, re.compile(r"分類|カテゴリ|category|domain|区分")),
    (Role.ID, re.compile(r"^(no\.?|#|項番|番号)$|項番|^id$")),
]

# A bracketed part, innermost first: an opening bracket is excluded from the inside, so a scan
# from one opening bracket stops at the next and the search stays linear (".*?" rescanned the
# rest of the line from every opening bracket when none closes).
_BRACKETS = re.compile(r"[（(【\[][^（(【\[)）】\]\n]*[)）】\]]")
_BRACKETED = re.compile(r"[（(【\[]([^（(【\[)）】\]]+)[)）】\]]")
_SPACES = re.compile(r"[\s\u3000]+")


def header_key(text: str) -> str:
    key = normalize(text)
    key = _SPACES.sub("", key)
    return key.strip(":：")


def header_role(text: str) -> Role | None:
    """The role a header cell names, or None when it names none we know."""
    if not text or len(text) > 40:
        return None
    key = header_key(text)
    if not key:
        return None
    if key in _EXACT:
        return _EXACT[key]
    bare = _BRACKETS.sub("", key)
    if bare and bare in _EXACT:
        role = _EXACT[bare]
        # "回答（はい/いいえ）" names a choice column even though its bare word is "回答".
        if role is Role.ANSWER and any(p.search(key) for r, p in _CONTAINS if r is Role.CHOICE):
            return Role.CHOICE
        return role
    for role, pattern in _CONTAINS:
        if pattern.search(key):
            return role
    return None


def product_from_header(text: str) -> str | None:
    """'回答（OrderMill）' -> 'OrderMill': one answer column per product."""
    m = _BRACKETED.search(text)
    if not m:
        return None
    inner = m.group(1).strip()
    if header_role(inner) is not None or re.search(r"はい|いいえ|yes|no|○|×|有|無", inner, re.IGNORECASE):
        return None
    return inner
