"""What a customer's question asks for: a Yes/No choice or words, which way it points, how many asks.

Customers write "Are passwords stored in plaintext?" as readily as "Are passwords hashed?", and
"How are passwords stored?" wants no Yes at all. A prior answer's choice may only carry over to
a question that asks for a choice and points the same way; these rules say which is which. They
are deliberately plain patterns: a reviewer can read why a choice was left empty.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Open questions: they want a description, a list or a name, not Yes/No.
_EN_OPEN_START = re.compile(
    r"^\s*(?:(?:if (?:so|yes|applicable)|please|and|also)[,:]?\s+)?"
    r"(how|what|which|who|whom|whose|where|when|why|describe|explain|list|provide|outline|detail|specify|"
    r"identify|name|summari[sz]e|share|state|indicate|give)\b",
    re.IGNORECASE,
)
_EN_WH_ANYWHERE = re.compile(r"\b(how|what|which|who|where|when|why|to what extent)\b", re.IGNORECASE)
_EN_YESNO_START = re.compile(
    r"^\s*(do|does|did|is|are|was|were|has|have|had|can|could|will|would|shall|should|may|must)\b", re.IGNORECASE
)
_JA_OPEN = re.compile(
    r"(どのよう|どの様|どの(?![^、。]{0,8}(?:でも|にも))|どういった|どんな|どちら|どれ|何を|何が|何で|何の|何か所|何年|何日|何時間|何回|何名|何人|何世代|いつ(?!でも|も)|"
    r"何[かヶヵカ]月|何件|何%|何％|何種類|"
    r"どこ(?!でも|にも)|誰(?!でも|も)|いくつ|どれくらい|どの程度|頻度を|方法を|内容を|概要を|手順を|体制を|名称を|"
    r"ご記入|記入して|記載して|ご記載|ご説明|説明して|教えて|お聞かせ|ご提示|提示して|挙げて|列挙|具体的に|"
    r"[を旨]記述|記述して|記述のこと|[を旨]記入|[を旨]記載|を明記)"
)
_JA_YESNO_END = re.compile(r"(ますか|ですか|でしょうか|ありますか|いますか|できますか|ませんか|か)[。？?\s]*$")
# Check-sheet items are statements a vendor ticks はい/いいえ against: "…の有無", "…の可否",
# requirements ending in "…こと", and plain predicates ("認証機能がある", "…を実施している").
_JA_CHECK_END = re.compile(r"(有無|可否|こと|事|ある|ない|いる|できる|する|設ける|実施|行う)[。.\s]*$")
# "…の有無と、「有り」の場合はその方法": a yes/no ask first, words after it.
_JA_CHECK_FIRST = re.compile(r"(有無|可否)(?:と|、|,|及び|および|並びに)")
# A trailing note in brackets ("…の有無（契約内容に依存する場合はその旨記述）") is read on its own.
_TRAILING_NOTE = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")
# Negative polarity: the question asks whether a bad practice happens (Yes is the bad answer).
_EN_NEGATIVE = re.compile(
    r"\b(plain ?text|clear ?text|unencrypted|hard[- ]?coded|shared (?:user |admin |administrator )?accounts?|"
    r"default passwords?|generic accounts?|"
    r"without (?:\w+ ){0,6}(?:encryption|authenticat\w*|mfa|approval|review|vpn|consent|permission|notice|"
    r"notif\w*|telling|informing|authori[sz]ation)|"
    r"not (?:encrypted|required|enforced|logged|reviewed)|never|any (?:breach|incident)s?|"
    r"been (?:breached|compromised|fined|sanctioned)|single (?:administrator|person|individual) (?:can|could|to)|"
    r"disable|bypass|exceptions? to|exempt(?:ed)? from|shorter than|fewer than \w+ characters|"
    r"(?:decline|refuse) to|unapproved|unremediated|unpatched|known (?:critical )?(?:vulnerabilit\w+|cves?)|"
    r"(?:subject to|received|paid|incurred) (?:any )?(?:regulatory )?(?:fines|sanctions|penalties)|"
    r"paid (?:a )?ransom|beyond (?:those |what is )?(?:required|necessary|needed)|degrad\w+|"
    r"(?:is|are) there no)\b",
    re.IGNORECASE,
)
_JA_NEGATIVE = re.compile(
    r"(平文|暗号化(?:されず|せず|されていない|していない)|ハードコード|埋め込|共有アカウント|共用アカウント|"
    r"(?:ID|アカウント)[^。、]{0,12}(?:共用|共有)|複数(?:人|名|の担当者|の利用者)で(?:共用|共有)|"
    r"(?:承諾|同意|許可|許諾|承認)(?:を得)?(?:ず|なく|なし)|(?:下限|上限|制限)(?:が|を)?(?:なく|ない|設けていない|設けず)|"
    r"誰でも|(?:対象|適用)外|免除|"
    r"初期パスワードのまま|デフォルトパスワード|していない|していません|されていない|"
    r"されていません|しない|行わない|ない場合|無効化|回避|例外(?!処理)|(?:漏えいした|漏洩した|事故が発生した)(?!場合|際|時|とき|ら)|違反)"
)
# Negatives that describe a threat rather than ask about a bad practice: "許可されていないアクセス"
# (unauthorized access), "改ざんされないように" (so that it is not tampered with).
_JA_NOT_NEGATIVE = re.compile(
    r"(?:許可|認可|承認|認証)(?:されて)?(?:いない|ない)|意図しない|予期しない|[さし]?れ?ないよう"
)
# Instructions aimed at the drafter rather than a question to the vendor.
_INJECTION = re.compile(
    r"(ignore (?:all |the |any )?(?:previous|prior|above|earlier) (?:instructions|prompts?)|disregard (?:the |all )?"
    r"(?:previous|above|prior)|you are (?:now )?(?:a|an|the) |system prompt|</?(?:evidence|question|system)>|"
    r"\b(?:assistant|system)\s*:|note to the (?:ai|assistant|model)|answer (?:only )?(?:with )?['\"]?yes['\"]? "
    r"(?:to|for) (?:all|every)|respond with ['\"]?yes|always answer|以前の指示|前の指示|指示を無視|上記の指示|"
    r"すべて「?はい」?と回答|全て「?はい」?と回答|システムプロンプト)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[。？?！!])\s*|\n+|(?<=\.)\s+(?=[A-Z])")
_EN_AND_ASK = re.compile(r"\?\s*(?:if (?:so|yes|applicable)|and|please|also)\b|\b(?:if so|if yes)\b", re.IGNORECASE)
_JA_AND_ASK = re.compile(r"(場合は|場合には|あわせて|併せて|また、|加えて|その内容|その方法|その頻度)")


@dataclass(frozen=True)
class QuestionShape:
    wants_choice: bool  # the question (or its first ask) is a yes/no question
    open_part: bool  # it also (or only) asks for words: how, what, describe, ご記入ください
    negative: bool  # Yes would admit a bad practice ("stored in plaintext?", 共有アカウント)
    parts: int  # how many asks it holds (a compound question has more than one)
    injection: bool  # it carries instructions for the drafter


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def _is_open(sentence: str, language: str) -> bool:
    if language == "en" or sentence.isascii():
        if _EN_OPEN_START.match(sentence):
            return True
        # "After we cancel, how many days ...?": a wh-word later in a sentence that is no yes/no question
        return not _EN_YESNO_START.match(sentence) and bool(_EN_WH_ANYWHERE.search(sentence))
    return bool(_JA_OPEN.search(sentence))


def _is_yesno(sentence: str, language: str) -> bool:
    if language == "en" or sentence.isascii():
        return bool(_EN_YESNO_START.match(sentence)) or (sentence.endswith("?") and not _is_open(sentence, "en"))
    main = _TRAILING_NOTE.sub("", sentence)
    first = _JA_CHECK_FIRST.search(main)
    if first and not _JA_OPEN.search(main[: first.start()]):
        return True
    if _JA_OPEN.search(main):
        return False
    return bool(_JA_YESNO_END.search(main) or _JA_CHECK_END.search(main))


def analyse(question: str, language: str) -> QuestionShape:
    """The shape of a question, from its own words only."""
    text = unicodedata.normalize("NFKC", question).strip()
    sentences = _sentences(text) or [text]
    asks = [s for s in sentences if _is_yesno(s, language) or _is_open(s, language)]
    first = asks[0] if asks else sentences[0]
    wants_choice = _is_yesno(first, language)
    # A row with no question form at all ("パスワードの最低文字数") reads as a request for words.
    open_part = any(_is_open(s, language) for s in sentences) or not asks
    connectors = len(_EN_AND_ASK.findall(text)) if language == "en" else len(_JA_AND_ASK.findall(text))
    parts = max(len(asks), 1) + (1 if connectors and len(asks) <= 1 else 0)
    negative_pattern = _EN_NEGATIVE if (language == "en" or text.isascii()) else _JA_NEGATIVE
    # Polarity is read from the yes/no ask itself: "Describe exceptions" does not flip a "Do you...?".
    if negative_pattern is _JA_NEGATIVE:
        first = _JA_NOT_NEGATIVE.sub("", first)
    negative = bool(negative_pattern.search(first)) if wants_choice else False
    return QuestionShape(wants_choice, open_part, negative, parts, bool(_INJECTION.search(text)))
