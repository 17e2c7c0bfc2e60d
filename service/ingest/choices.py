"""Answer choices (○/×/有/無/はい/いいえ/Yes/No/N/A ...) normalised to yes / no / na."""

from __future__ import annotations

import re
import unicodedata

YES = "yes"
NO = "no"
NA = "na"

# Longest first, so that "有り" wins over "有" and "n/a" over "n".
_TOKENS: list[tuple[str, str]] = sorted(
    [
        ("はい", YES),
        ("有り", YES),
        ("あり", YES),
        ("有", YES),
        ("○", YES),
        ("〇", YES),
        ("◯", YES),
        ("◎", YES),
        ("可能", YES),
        ("可", YES),
        ("実施", YES),
        ("対応済", YES),
        ("済", YES),
        ("yes", YES),
        ("y", YES),
        ("true", YES),
        ("いいえ", NO),
        ("無し", NO),
        ("なし", NO),
        ("無", NO),
        ("×", NO),
        ("✕", NO),
        ("不可", NO),
        ("未実施", NO),
        ("未対応", NO),
        ("no", NO),
        ("n", NO),
        ("false", NO),
        ("該当なし", NA),
        ("該当無し", NA),
        ("対象外", NA),
        ("非該当", NA),
        ("n/a", NA),
        ("na", NA),
        ("not applicable", NA),
        ("-", NA),
        ("ー", NA),
        ("―", NA),
        ("△", NA),
    ],
    key=lambda t: -len(t[0]),
)
_TOKEN_MAP = dict(_TOKENS)
# What may follow a leading choice word in an answer text: end, punctuation, brackets, space.
_BOUNDARY = re.compile(r"^($|[\s、。,.;:：（(【\[・/／）)]|です|でございます|ございます)")


def normalize_choice(value: str) -> str | None:
    """A whole cell that is only a choice (a separate choice column)."""
    key = unicodedata.normalize("NFKC", value).strip().lower().rstrip("。.")
    return _TOKEN_MAP.get(key)


def leading_choice(answer: str) -> tuple[str | None, str]:
    """The choice an answer text starts with ('有り（NTP）' -> yes), and the raw word.

    Single letters and dashes count only as whole cells: 'No.' starting a sentence is too
    ambiguous to read as a choice.
    """
    text = unicodedata.normalize("NFKC", answer).strip()
    low = text.lower()
    for token, choice in _TOKENS:
        if len(token) == 1 and token in "yn-ー―":
            continue
        if low.startswith(token) and _BOUNDARY.match(low[len(token) :]):
            # An English word must end at a word boundary ("yesterday" is not "yes").
            if token.isascii() and low[len(token) : len(token) + 1].isalpha():
                continue
            return choice, text[: len(token)]
    whole = normalize_choice(text)
    if whole:
        return whole, text
    return None, ""
