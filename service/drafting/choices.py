"""The choice a draft states, in the questionnaire's language, derived from the evidence."""

from __future__ import annotations

import re

from service.ingest.choices import NA, NO, YES, leading_choice

LABELS = {
    "ja": {YES: "はい", NO: "いいえ", NA: "該当なし"},
    "en": {YES: "Yes", NO: "No", NA: "N/A"},
}

# Wording that states a choice without a choice word: negative forms first (they contain the
# positive stems: 行っておりません contains 行っております's stem).
_NEGATIVE = re.compile(
    r"(しておりません|していません|しません|行っておりません|行っていません|提供しておりません|ございません|"
    r"できません|未対応|非対応|未実施|未取得|対象外|行わない|しない|not\s+(?:supported|available|provided)|"
    r"\bno\b|\bnot\b|\bnever\b|does not|do not|don't|doesn't)",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"(しております|しています|行っております|行っています|実施|対応して|対応可能|可能です|可能|取得して|導入して|"
    r"設定して|保管して|採用して|定めて|整備|有り|あり|\bwe (?:do|have|are|use|support|perform|provide)\b|"
    r"\bsupported\b|\bavailable\b|\benabled\b|\bencrypted\b|\bcertified\b|\byes\b)",
    re.IGNORECASE,
)


def evidence_choice(stored: str | None, answer: str, prose: bool = False) -> str | None:
    """yes / no / na from an entry: its stored choice, its leading word, or its wording.

    A policy section states many things at once, so its wording decides no choice.
    """
    if stored:
        return stored
    leading, _ = leading_choice(answer)
    if leading:
        return leading
    if prose:
        return None
    head = answer[:120]
    if _NEGATIVE.search(head):
        return NO
    if _POSITIVE.search(head):
        return YES
    return None


def label(choice: str | None, language: str) -> str | None:
    if choice is None:
        return None
    return LABELS["en" if language == "en" else "ja"][choice]
