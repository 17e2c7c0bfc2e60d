"""The choice a draft states, in the questionnaire's language, derived from the evidence."""

from __future__ import annotations

import re
from collections.abc import Callable

from service.ingest.choices import NA, NO, YES, leading_choice

LABELS = {
    "ja": {YES: "はい", NO: "いいえ", NA: "該当なし"},
    "en": {YES: "Yes", NO: "No", NA: "N/A"},
}

# Wording that states a choice without a choice word. A Japanese answer states it in how its
# first sentence ends (…提供しておりません。 / …実施しています。); later sentences often qualify
# something else (※データの返却は行っておりません), so they decide nothing.
_JA_NEGATIVE_END = re.compile(
    r"(しておりません|していません|しません|行っておりません|行っていません|ございません|できません|"
    r"未対応です|非対応です|対象外です|ありません|おりません|"
    # plain forms, as internal sheets write them: …していない。 …できない。 …行わない。
    r"していない|ていない|しない|されない|行わない|できない|ない|未実施|未対応|不可)\s*$"
)
_JA_POSITIVE_END = re.compile(
    r"(しております|しています|行っております|行っています|行います|します|できます|可能です|可能|"
    r"あります|おります|ます|"
    # plain forms: …締結している。 …維持されている。 …定められている。 …可能である。
    r"している|ている|ておる|されている|られている|れている|である|ある|できる|行う|する|実施|対応済|済み?)\s*$"
)
_EN_NEGATIVE = re.compile(r"\b(no|not|never|does not|do not|don't|doesn't|cannot|can't)\b", re.IGNORECASE)
_EN_POSITIVE = re.compile(
    r"\b(we (?:do|have|are|use|support|perform|provide|keep|run)|supported|available|enabled|encrypted"
    r"|certified|yes)\b",
    re.IGNORECASE,
)
# A sentence ends at 。 ！ ？ or a new line; a Latin period only before a space or the end
# (so "www.example.co.jp" stays whole).
_SENTENCE_END = re.compile(r"[。．!?！？\n]|\.(?=\s|$)")


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip(" 　-・")


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
    first = _first_sentence(answer)
    if _JA_NEGATIVE_END.search(first) or (first.isascii() and _EN_NEGATIVE.search(first)):
        return NO
    if _JA_POSITIVE_END.search(first) or (first.isascii() and _EN_POSITIVE.search(first)):
        return YES
    return None


# An answer that describes the measure instead of saying はい ("AWS Shield による対策",
# "web上にヘルプページを用意") states that the measure exists, unless it denies, defers or
# hedges (無し, 予定, 検討中, 低い, not, planned): then nobody may read a Yes into it.
_JA_DENIES_OR_HEDGES = re.compile(
    r"(無し|なし|無い|ない|未|不可|不要|予定|検討|対象外|低い|困難|できかね|不明|非公開|開示(?:して)?(?:いない|しない|できない))"
)
_EN_DENIES_OR_HEDGES = re.compile(
    r"\b(no|not|none|never|n/?a|planned|plan to|considering|under review|unknown|cannot|can't|low)\b", re.IGNORECASE
)
# A reference elsewhere ("下記のURLを参照", "ヘルプページに記載") says where, not whether.
_REFERS_ELSEWHERE = re.compile(r"(参照|https?://|別紙|記載|お問い?合わせ|see |refer to)", re.IGNORECASE)


def implied_choice(answer: str) -> str | None:
    """Yes when a prior answer describes a measure in place without a choice word, else None.

    Only for a question asked as Yes/No whose cited row is relevant is this worth anything; the
    draft that carries it is flagged `choice_inferred` so a reviewer confirms it.
    """
    first = _first_sentence(answer)
    if len(re.sub(r"[-‐−–—ー―\s]", "", first)) < 2:  # "-" or "ー" in a cell says nothing
        return None
    if _JA_DENIES_OR_HEDGES.search(first) or _EN_DENIES_OR_HEDGES.search(first) or _REFERS_ELSEWHERE.search(first):
        return None
    return YES


_SENTENCES = re.compile(r"(?<=[。．!?！？])|\n+")


def prose_choice(question: str, passage: str, bigrams: Callable[[str], set[str]]) -> str | None:
    """The choice stated by the passage sentence that speaks of what the question asks.

    A policy section states many things; only its sentence that shares the question's words
    (or its key terms, such as TLS) says anything about this question.
    """
    wanted = bigrams(question) | {t for t in re.findall(r"[a-z0-9]{2,}", question.lower()) if len(t) >= 3}
    if not wanted:
        return None
    best, best_overlap = "", 0
    for sentence in _SENTENCES.split(passage):
        words = bigrams(sentence) | set(re.findall(r"[a-z0-9]{2,}", sentence.lower()))
        overlap = len(wanted & words)
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    if not (best_overlap >= 2 or (best_overlap and len(wanted) <= 2)):
        return None
    # "開発は外部の会社に委託せずに、社内で行います": the sentence ends positive about something
    # else; what the question asks (委託) is what it says is not done.
    if any(bigrams(done) & wanted for done in _JA_WITHOUT.findall(best)):
        return NO
    return evidence_choice(None, best)


# "Xせずに", "Xすることなく", "Xしないで": X is not done (whatever the sentence goes on to say).
_JA_WITHOUT = re.compile(r"([\u3400-\u9fff\u30a0-\u30ff]{2,})(?:をせず|はせず|せず|することなく|しないで|されず)")


def label(choice: str | None, language: str) -> str | None:
    if choice is None:
        return None
    return LABELS["en" if language == "en" else "ja"][choice]
