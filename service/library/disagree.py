"""Disagreements between two answers of one cluster, beyond opposite Yes/No choices.

- `facts`: one states a fact the other denies ("暗号化しています" against "暗号化されずに保管").
- `offered`: one says a thing is possible or provided, the other that it is not
  ("二要素認証が可能" against "ワンタイムパスワードによるログインは提供しておりません").
- `period`: both state how long something is kept, and no period is the same
  ("保管期間1年" against "半年間保存" against "保存期間の制限なし").

Compared sentence by sentence (clauses), not answer by answer, because one answer often says
several things: "DB data is stored unencrypted; traffic is TLS-encrypted" does not contradict
"transmitted data is encrypted". Read from the seeds (eval/labels/library_conflicts.json, which
also lists the pairs that looked like conflicts but are not):
- a fact denied in one clause contradicts a clause of the other answer only when both speak of
  the same scope (data in transit against data at rest) and, if the denying answer also states
  that fact elsewhere, the other clause is no closer in words to its statement than to its denial
  ("監査ログに…記録しております。個人情報は記録しておりません" against "ログを記録している");
- "not offered" is a negation of offering ("提供しておりません", "できません", "不可"), not any
  negative verb ("記録しておりません" denies a fact, it offers nothing), and the two clauses must
  speak of the same thing (shared words, with their questions): a cluster may hold a
  neighbouring control ("ID をログ検索に利用: 可能" beside "ワンタイムパスワードは提供しておりません").
"""

from __future__ import annotations

import re
import unicodedata

_NOT_OFFERED = re.compile(
    r"(?:提供|対応|用意|サポート|実装)[^。\n]{0,4}?(?:おりません|ていません|いません|ございません|ありません|しない)"
    r"|(?:機能|手段|仕組み)[^。\n]{0,4}?(?:ございません|ありません)"
    r"|できません|行えません|不可(?!逆)"
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
# Clauses: sentences, lines, bullets and notes ("※").
_CLAUSE_BREAK = re.compile(r"[。\n]|(?:^|\s)[-・●]\s|※|(?<=[.;])\s+")
# Words of a clause, for "do they speak of the same thing": bigrams of kanji, katakana and latin runs.
_CONTENT_RUN = re.compile(r"[\u4e00-\u9fff\u30a1-\u30fa\u30fca-z0-9]+")
# Words every answer uses about offering something: they say nothing about what is offered.
_OFFER_WORDS = re.compile(r"クラウドサービス|クラウド|サービス|提供|可能|不可|対応|可否|利用者|利用|service|cloud")
TOPIC_OVERLAP = 0.2  # share of the smaller clause's words the other must have: "the same thing"
# Scope of a statement: data moving or data kept ("encrypted" is true of one and not the other).
_SCOPES = {
    "transit": re.compile(r"通信|伝送|送受信|経路|ネットワーク|\b(?:tls|ssl|https)\b|transit|transmi"),
    "rest": re.compile(r"保存|保管|格納|データベース|\bdb\b|ストレージ|ディスク|at rest|\bstored?\b|storage"),
}


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_BREAK.split(_norm(text)) if c and c.strip()]


def content_words(text: str, drop: re.Pattern[str] | None = None) -> set[str]:
    """Bigrams of the kanji, katakana and latin runs of a text, without the words `drop` matches."""
    norm = _norm(text)
    if drop is not None:
        norm = drop.sub(" ", norm)
    words: set[str] = set()
    for run in _CONTENT_RUN.findall(norm):
        words.update([run] if len(run) == 1 else (run[i : i + 2] for i in range(len(run) - 1)))
    return words


def overlap(first: set[str], second: set[str]) -> float:
    """Overlap coefficient: the share of the smaller set found in the other."""
    if not first or not second:
        return 0.0
    return len(first & second) / min(len(first), len(second))


def scopes(text: str) -> set[str]:
    norm = _norm(text)
    return {name for name, pattern in _SCOPES.items() if pattern.search(norm)}


def _same_scope(first: set[str], second: set[str]) -> bool:
    return not first or not second or bool(first & second)


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


def _facts(text: str, question: str) -> list[tuple[str, set[str], set[str], set[str]]]:
    """(clause, facts stated, facts denied, scope) per clause; a bare clause takes its question's scope."""
    from service.drafting.flags import denied_facts, stated_facts  # here: drafting imports the library

    found = []
    for clause in clauses(text):
        denied = denied_facts(clause)
        stated = stated_facts(clause) - denied  # "暗号化されずに" also reads as "暗号化され"
        if stated or denied:
            found.append((clause, stated, denied, scopes(clause) or scopes(question)))
    return found


def _stated_and_denied(questions: str, first: tuple[str, str], second: tuple[str, str]) -> bool:
    """A clause of `first` states a fact a clause of `second` denies, about the same thing."""
    stating = _facts(*first)
    denying = _facts(*second)
    for clause, stated, _, scope in stating:
        for fact in (f for f in stated if f in questions):
            # The other answer's clauses about this fact and scope; the denial must be the closest.
            about = [c for c in denying if fact in c[1] | c[2] and _same_scope(scope, c[3])]
            if not any(fact in c[2] for c in about):
                continue
            words = content_words(clause)
            best = max(about, key=lambda c: (overlap(words, content_words(c[0])), fact in c[2]))
            if fact in best[2]:
                return True
    return False


def _not_offered_here(first: tuple[str, str], second: tuple[str, str]) -> bool:
    """A clause of `first` offers what a clause of `second` says is not offered."""
    yes = [c for c in clauses(first[0]) if offered(c) == 1]
    no = [c for c in clauses(second[0]) if offered(c) == -1]
    for clause_yes in yes:
        words_yes = content_words(f"{clause_yes}\n{first[1]}", _OFFER_WORDS)
        for clause_no in no:
            if overlap(words_yes, content_words(f"{clause_no}\n{second[1]}", _OFFER_WORDS)) >= TOPIC_OVERLAP:
                return True
    return False


def text_disagreement(first: tuple[str, str], second: tuple[str, str]) -> str | None:
    """Why two answers disagree, or None. Each answer is (answer text, its question)."""
    questions = _norm(f"{first[1]}\n{second[1]}")  # only facts the questions ask about count
    if _stated_and_denied(questions, first, second) or _stated_and_denied(questions, second, first):
        return "facts"
    if _not_offered_here(first, second) or _not_offered_here(second, first):
        return "offered"
    kept_first, kept_second = periods(first[0]), periods(second[0])
    if kept_first and kept_second and not kept_first & kept_second:
        return "period"
    return None
