"""Writes the sample knowledge base in `knowledge_base/`: past answered sheets of a fictional
vendor, 星空クラウド株式会社 (Hoshizora Cloud), for its products StarDesk and StarMail.

The files are committed; run this only to regenerate them: `python eval/make_sample_kb.py`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import docx
import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill

OUT = Path(__file__).resolve().parent.parent / "knowledge_base"

JA_SHEET = [
    (
        "基本事項",
        [
            (
                "情報セキュリティ基本方針を策定し、公開していますか。",
                "はい",
                "情報セキュリティ基本方針を策定し、当社Webサイトで公開しています。",
                "",
            ),
            (
                "ISMS（ISO/IEC 27001）等の第三者認証を取得していますか。",
                "はい",
                "ISO/IEC 27001 および ISO/IEC 27017 の認証を取得しています（認証登録番号 IS 700123）。",
                "毎年サーベイランス審査を受審",
            ),
            (
                "プライバシーマークを取得していますか。",
                "いいえ",
                "取得していません。個人情報は ISMS の管理策に基づき保護しています。",
                "",
            ),
        ],
    ),
    (
        "データ保護",
        [
            (
                "お客様データを保管するデータセンターの所在国を教えてください。",
                "該当なし",
                "お客様データは日本国内（東京・大阪リージョン）のデータセンターにのみ保管します。",
                "国外への複製は行いません",
            ),
            (
                "保存データは暗号化されていますか。",
                "はい",
                "データベースおよびバックアップは AES-256 で暗号化して保存しています。",
                "",
            ),
            (
                "通信経路は暗号化されていますか。",
                "はい",
                "すべての通信は TLS 1.2 以上で暗号化しています。TLS 1.0/1.1 は無効化済みです。",
                "",
            ),
            (
                "バックアップを取得していますか。世代数と頻度を記載してください。",
                "はい",
                "日次でフルバックアップを取得し、30世代保管しています。バックアップは別リージョンへ複製しています。",
                "",
            ),
            (
                "契約終了時にお客様データを削除しますか。",
                "はい",
                "契約終了後30日以内にお客様データを完全に削除し、ご要望に応じて削除証明書を発行します。",
                "",
            ),
        ],
    ),
    (
        "アクセス管理",
        [
            (
                "管理画面へのログインに多要素認証を利用できますか。",
                "はい",
                "TOTP 方式の多要素認証に対応しています。管理者アカウントには多要素認証を必須化できます。",
                "",
            ),
            (
                "パスワードの強度要件を設定できますか。",
                "はい",
                "最小文字数（既定12文字）、文字種、再利用禁止回数を設定できます。",
                "",
            ),
            (
                "IPアドレスによるアクセス制限は可能ですか。",
                "はい",
                "契約単位で接続元 IP アドレスを制限できます。",
                "StarMail は対象外",
            ),
            (
                "シングルサインオン（SAML）に対応していますか。",
                "はい",
                "SAML 2.0 によるシングルサインオンに対応しています。",
                "",
            ),
        ],
    ),
    (
        "運用",
        [
            ("サーバーの時刻同期を行っていますか。", "はい", "すべてのサーバーは NTP により時刻を同期しています。", ""),
            (
                "操作ログ・アクセスログを取得し、保管していますか。保管期間を記載してください。",
                "はい",
                "アクセスログおよび操作ログを取得し、1年間保管しています。",
                "",
            ),
            (
                "脆弱性診断を定期的に実施していますか。",
                "はい",
                "年1回、第三者機関によるペネトレーションテストを実施しています。",
                "",
            ),
            (
                "ウイルス対策・マルウェア対策を実施していますか。",
                "はい",
                "全サーバーおよび従業員端末に EDR を導入しています。",
                "",
            ),
        ],
    ),
    (
        "インシデント対応",
        [
            (
                "セキュリティインシデント発生時にお客様へ通知しますか。",
                "はい",
                "インシデントを確認してから24時間以内に、登録された連絡先へメールで通知します。",
                "",
            ),
            (
                "インシデント対応の体制と手順を整備していますか。",
                "はい",
                "CSIRT を設置し、対応手順書を整備して年1回訓練しています。",
                "",
            ),
        ],
    ),
]

EN_CSV = [
    (
        "BCR-01",
        "Business Continuity",
        "Do you back up customer data, and how often?",
        "Yes",
        "Full backups run daily and are kept for 30 generations, replicated to a second region.",
    ),
    (
        "CEK-03",
        "Cryptography",
        "Is customer data encrypted at rest?",
        "Yes",
        "Databases and backups are encrypted with AES-256; keys are managed in a cloud KMS.",
    ),
    (
        "CEK-04",
        "Cryptography",
        "Is data encrypted in transit?",
        "Yes",
        "All traffic uses TLS 1.2 or later. Older protocols are disabled.",
    ),
    (
        "DSP-16",
        "Data Security",
        "Is customer data deleted when the contract ends?",
        "Yes",
        "Customer data is deleted within 30 days after termination; a deletion certificate is available.",
    ),
    (
        "DSP-19",
        "Data Security",
        "In which countries is customer data stored?",
        "N/A",
        "Customer data is stored only in Japan (Tokyo and Osaka regions).",
    ),
    (
        "IAM-14",
        "Identity & Access",
        "Do you support multi-factor authentication for users?",
        "Yes",
        "TOTP-based MFA is supported and can be enforced for administrators.",
    ),
    (
        "IAM-15",
        "Identity & Access",
        "Can password complexity rules be configured?",
        "Yes",
        "Minimum length (12 by default), character classes and reuse limits are configurable.",
    ),
    (
        "LOG-05",
        "Logging",
        "How long do you retain audit logs?",
        "Yes",
        "Access and audit logs are retained for one year.",
    ),
    (
        "LOG-10",
        "Logging",
        "Are system clocks synchronized to a reliable time source?",
        "Yes",
        "All servers synchronise time with NTP.",
    ),
    (
        "SEF-03",
        "Incident Management",
        "Will you notify customers of security incidents?",
        "Yes",
        "Customers are notified by email within 24 hours of a confirmed incident.",
    ),
    (
        "STA-09",
        "Audit & Assurance",
        "Do you hold ISO/IEC 27001 certification?",
        "Yes",
        "ISO/IEC 27001 and ISO/IEC 27017 certified; surveillance audits are held yearly.",
    ),
    (
        "TVM-07",
        "Vulnerability Management",
        "Do you perform penetration tests?",
        "Yes",
        "An independent third party performs a penetration test every year.",
    ),
    (
        "HRS-11",
        "Human Resources",
        "Do employees receive security awareness training?",
        "Yes",
        "All employees complete training at hiring and every year.",
    ),
    (
        "AIS-04",
        "Application Security",
        "Do you use customer data to train AI models?",
        "No",
        "Customer data is never used to train machine-learning models.",
    ),
]

POLICY = [
    ("1", "目的", ["本書は、StarDesk および StarMail の提供における情報セキュリティ対策を説明するものです。"]),
    (
        "2",
        "データの保管場所",
        [
            "お客様データは日本国内のデータセンターにのみ保管します。",
            "海外の委託先へお客様データを移転することはありません。",
        ],
    ),
    (
        "3",
        "暗号化",
        ["保存データは AES-256 により暗号化します。", "お客様とサービス間の通信は TLS 1.2 以上で暗号化します。"],
    ),
    (
        "4",
        "アクセス管理",
        [
            "お客様データへのアクセスは、業務上必要な運用担当者に限定し、多要素認証を必須としています。",
            "アクセス権限は四半期ごとに棚卸しを行います。",
        ],
    ),
    (
        "5",
        "ログ管理と時刻同期",
        [
            "操作ログ・アクセスログは1年間保管し、改ざんを防止するため別環境に保存します。",
            "ログの時刻は NTP により同期しています。",
        ],
    ),
    ("6", "インシデント対応", ["重大なセキュリティインシデントは、確認後24時間以内にお客様へ通知します。"]),
    ("7", "事業継続", ["東京と大阪の2リージョン構成とし、目標復旧時間（RTO）は4時間です。"]),
]

SLA_MD = """# 星空クラウド株式会社 SLA・運用チェックシート

最終更新日：2025年4月1日

| 分類 | 項目 | 内容 | StarDesk | StarMail |
|---|---|---|---|---|
| 可用性 | 稼働率 | 月間のサービス稼働率の目標値 | 99.95% | 99.9% |
| 可用性 | 計画停止 | 計画メンテナンスの事前通知 | 7日前までにメールで通知 | 7日前までにメールで通知 |
| 可用性 | 災害対策 | 災害時の復旧体制（RTO/RPO） | RTO 4時間、RPO 24時間 | RTO 8時間、RPO 24時間 |
| サポート | 受付時間 | 障害の問い合わせ受付時間 | 24時間365日 | 平日 9:00-18:00 |
| サポート | 障害通知 | 障害発生時の通知方法 | ステータスページとメールで通知 | ステータスページで通知 |
| データ管理 | バックアップ | バックアップの頻度と保管世代数 | 日次、30世代 | 日次、14世代 |
| データ管理 | データ返却 | 解約時のデータエクスポート | CSV 形式でエクスポート可能 | EML 形式でエクスポート可能 |
"""


def write_xlsx(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "セキュリティチェックシート"
    ws["A1"] = "星空クラウド株式会社 セキュリティチェックシート（StarDesk）"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = "最終更新日：2025年3月15日"
    ws.append([])
    ws.append([])
    header = ["No.", "大項目", "確認事項", "回答（はい/いいえ）", "回答内容", "備考"]
    ws.append(header)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[5]:
        cell.font = Font(bold=True)
        cell.fill = fill
    number = 1
    for category, rows in JA_SHEET:
        first = ws.max_row + 1
        for question, choice, answer, notes in rows:
            ws.append([number, category, question, choice, answer, notes])
            number += 1
        if len(rows) > 1:
            ws.merge_cells(start_row=first, start_column=2, end_row=ws.max_row, end_column=2)
    for column, width in zip("ABCDEF", (6, 14, 50, 12, 60, 24), strict=True):
        ws.column_dimensions[column].width = width
    for row in ws.iter_rows(min_row=6):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    cover = wb.create_sheet("改訂履歴")
    cover.append(["版", "日付", "内容"])
    cover.append(["1.0", "2024-04-01", "初版"])
    cover.append(["1.1", "2025-03-15", "多要素認証の記載を更新"])
    wb.save(path)


def write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Control ID", "Domain", "Question", "Answer", "Comments"])
        writer.writerows(EN_CSV)


def write_docx(path: Path) -> None:
    document = docx.Document()
    document.add_heading("StarDesk / StarMail セキュリティホワイトペーパー", level=0)
    document.add_paragraph("星空クラウド株式会社　2025年2月版")
    for number, title, paragraphs in POLICY:
        document.add_heading(f"{number} {title}", level=1)
        for text in paragraphs:
            document.add_paragraph(text)
    document.save(path)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write_xlsx(OUT / "hoshizora_security_checksheet_2025.xlsx")
    write_csv(OUT / "hoshizora_caiq_lite_2024.csv")
    write_docx(OUT / "hoshizora_security_whitepaper.docx")
    (OUT / "hoshizora_sla_sheet.md").write_text(SLA_MD, encoding="utf-8")
    print(f"wrote the sample knowledge base to {OUT}")


if __name__ == "__main__":
    main()
