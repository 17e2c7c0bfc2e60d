"""What a question asks for, read from its words alone (service.drafting.questions.analyse).

Japanese check sheets state their items rather than ask them: "ウイルス対策の有無", "…が取得されて
いること", "ログイン時に認証機能がある". A vendor ticks はい/いいえ against each; a draft that leaves
the choice empty there makes the reviewer do the sheet by hand.
"""

from __future__ import annotations

import pytest

from service.drafting.questions import analyse


@pytest.mark.parametrize(
    "question",
    [
        "脆弱性診断の有無",
        "時刻同期への対応の有無",
        "移行支援の有無（契約内容に依存する場合はその旨記述）",
        "ログイン時に認証機能がある",
        "公的認証（ISMS、プライバシーマーク等）が取得されていること",
        "アカウントを個人単位に発行する。",
        "保護措置を実施しているか（SSLによる暗号化 など）",
        "削除又は廃棄方法の開示の可否",
    ],
)
def test_a_check_sheet_statement_asks_for_a_choice(question: str) -> None:
    assert analyse(question, "ja").wants_choice


@pytest.mark.parametrize(
    "question",
    [
        "代替措置で提供されるデータ形式の定義を記述",
        "パスワードの最低文字数",
        "バックアップの取得頻度をご記入ください。",
        "アプリケーションのカスタマイズの範囲",
    ],
)
def test_a_request_for_words_asks_for_none(question: str) -> None:
    assert not analyse(question, "ja").wants_choice


def test_a_yes_no_ask_followed_by_a_request_for_words_wants_both() -> None:
    shape = analyse("障害発生時通知の有無と、「有り」の場合は通知方法をご記入ください", "ja")
    assert shape.wants_choice and shape.open_part


@pytest.mark.parametrize(
    ("question", "negative"),
    [
        ("許可されていないアクセスを検知していますか。", False),
        ("ログが改ざんされないように保護していますか。", False),
        ("例外処理の記録を取得すること", False),
        ("パスワードを平文で保存していますか。", True),
        ("管理者アカウントを共有していますか。", True),
        ("ポリシーの例外を認めていますか。", True),
        ("暗号化されていないデータはありますか。", True),
    ],
)
def test_a_threat_named_in_a_question_does_not_turn_it_round(question: str, negative: bool) -> None:
    assert analyse(question, "ja").negative is negative


@pytest.mark.parametrize(
    ("question", "language", "negative"),
    [
        ("サーバの管理者IDを運用担当者の間で共用していますか。", "ja", True),
        ("お客様の同意なく、データを第三者に提供することはありますか。", "ja", True),
        ("パスワードの長さに下限を設けていない状態ですか。", "ja", True),
        ("重要な設定ファイルを誰でも編集できる状態ですか。", "ja", True),
        ("多要素認証の対象外となっている管理者アカウントはありますか。", "ja", True),
        ("パスワード変更の適用外とされている利用者はいますか。", "ja", True),
        # A bad event as the condition of a good practice is not a bad practice.
        ("個人情報が漏えいした場合、速やかに報告しますか。", "ja", False),
        ("セキュリティ事故が発生した際は契約者へ連絡しますか。", "ja", False),
        ("利用者IDを個人ごとに発行していますか。", "ja", False),
        ("Are service accounts exempt from MFA?", "en", True),
        ("Can users choose a password shorter than 8 characters?", "en", True),
        ("Do you change tenant configuration without notifying customers first?", "en", True),
        ("Can staff reach production without going through the bastion host or VPN?", "en", True),
        ("Have you paid a ransom to an attacker?", "en", True),
        ("Are servers running with unpatched critical vulnerabilities?", "en", True),
        ("Is there no backup of customer data?", "en", True),
        ("Do you notify customers of breaches without undue delay?", "en", False),
        ("Do you detect unauthorized access to production?", "en", False),
        ("Is data encrypted in transit?", "en", False),
    ],
)
def test_bad_practices_are_read_as_such(question: str, language: str, negative: bool) -> None:
    shape = analyse(question, language)
    assert shape.wants_choice and shape.negative is negative


def test_anyone_is_no_question_word() -> None:
    """Anyone (誰でも) and any time (いつでも) ask no who or when: the question still wants a choice."""
    assert analyse("ログはいつでも誰でも参照できますか。", "ja").wants_choice
    assert not analyse("誰が承認しますか。", "ja").wants_choice


@pytest.mark.parametrize(
    "question",
    ["障害発生時、どのくらいの時間で利用者に通知されますか。", "データセンターはどの地域にありますか。"],
)
def test_which_and_how_long_ask_for_words(question: str) -> None:
    assert not analyse(question, "ja").wants_choice


def test_any_with_mo_is_no_question_word() -> None:
    assert analyse("どの端末からでもアクセスできますか。", "ja").wants_choice
