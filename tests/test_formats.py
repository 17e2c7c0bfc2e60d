"""Each file format parses into the same item shape, and bad input fails with a clear message."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from service.ingest import IngestError, Limits, parse_bytes, parse_file


def xlsx_bytes(build) -> bytes:  # noqa: ANN001
    wb = openpyxl.Workbook()
    build(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def customer_workbook(wb: openpyxl.Workbook) -> None:
    ws = wb.active
    ws.title = "Security"
    ws["A1"] = "ACME 株式会社 セキュリティチェックシート"
    ws["A2"] = "最終更新日：2024年5月1日"
    ws.append([])
    ws.append(["項番", "分類", "質問", "回答", "", "備考"])
    ws.merge_cells("D4:E4")
    ws.append([1, "データ保護", "バックアップを取得していますか。", "はい", "日次で取得しています。", ""])
    ws.append([2, None, "保存データを暗号化していますか。", "はい", "AES-256", "KMS で鍵管理"])
    ws.append([3, "認証", "多要素認証に対応していますか。", "いいえ", "", ""])
    ws.merge_cells("B5:B6")
    wb.create_sheet("表紙")["A1"] = "この シート には 質問 がありません"


def test_xlsx_header_below_title_merged_category_and_date() -> None:
    doc = parse_bytes("acme.xlsx", xlsx_bytes(customer_workbook))
    assert [i.locator for i in doc.items] == ["1", "2", "3"]
    first, second, third = doc.items
    assert first.sheet == "Security" and first.row == 5
    assert first.question == "バックアップを取得していますか。"
    assert first.answer == "はい\n日次で取得しています。" and first.choice == "yes"
    assert second.section == ["データ保護"]  # the merged category cell applies to row 6 too
    assert second.notes == "KMS で鍵管理"
    assert third.choice == "no" and third.section == ["認証"]
    assert str(doc.sheet_date) == "2024-05-01"
    assert any("表紙" in w for w in doc.warnings)
    assert first.answer_cell is not None and first.answer_cell.column == 3


def test_english_csv_with_choice_column_and_comments() -> None:
    text = (
        "Control ID,Domain,Question,Answer,Comments\r\n"
        "IAM-01,Identity,Do you support MFA?,Yes,TOTP and WebAuthn\r\n"
        'LOG-02,Logging,"How long are logs kept?",N/A,"Kept for one year, then deleted"\r\n'
    )
    doc = parse_bytes("caiq.csv", text.encode("utf-8"))
    assert [(i.locator, i.choice, i.answer) for i in doc.items] == [
        ("IAM-01", "yes", "TOTP and WebAuthn"),
        ("LOG-02", "na", "Kept for one year, then deleted"),
    ]
    assert doc.items[0].language == "en" and doc.items[0].section == ["Identity"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_japanese_csv_encodings_are_detected(encoding: str) -> None:
    text = "No,確認事項,回答\r\n1,データセンターは国内にありますか。,はい、東京に所在します。\r\n"
    doc = parse_bytes("sheet.csv", text.encode(encoding))
    (item,) = doc.items
    assert item.question == "データセンターは国内にありますか。"
    assert item.answer == "はい、東京に所在します。" and item.choice == "yes"
    assert item.locator == "No.1"


def test_docx_question_table() -> None:
    document = docx.Document()
    document.add_paragraph("Vendor security questionnaire")
    table = document.add_table(rows=3, cols=3)
    for row, values in zip(
        table.rows,
        [
            ("#", "Question", "Response"),
            ("1", "Do you encrypt backups?", "Yes, with AES-256."),
            ("2", "Is there a DPO?", "No."),
        ],
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    doc = parse_bytes("q.docx", out.getvalue())
    assert [(i.locator, i.question, i.choice) for i in doc.items] == [
        ("No.1", "Do you encrypt backups?", "yes"),
        ("No.2", "Is there a DPO?", "no"),
    ]
    assert doc.items[0].sheet == "table 1"


def test_docx_policy_headings_become_sections() -> None:
    document = docx.Document()
    document.add_heading("Security overview", level=0)
    document.add_heading("1 Encryption", level=1)
    document.add_paragraph("Data at rest is encrypted with AES-256.")
    document.add_heading("2 Backups", level=1)
    document.add_paragraph("Daily backups are kept for 30 days.")
    out = io.BytesIO()
    document.save(out)
    doc = parse_bytes("policy.docx", out.getvalue())
    assert doc.kind == "prose" and doc.title == "Security overview"
    assert [(i.locator, i.question, i.answer) for i in doc.items] == [
        ("§1", "Encryption", "Data at rest is encrypted with AES-256."),
        ("§2", "Backups", "Daily backups are kept for 30 days."),
    ]


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a text layer (Helvetica), built by hand so the test needs no PDF writer."""
    text = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = "%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def test_pdf_policy_text() -> None:
    pdf = minimal_pdf(
        [
            "Security policy",
            "1 Backups",
            "Backups run every night and are kept for 30 days.",
            "2 Logging",
            "Audit logs are kept for one year.",
        ]
    )
    doc = parse_bytes("policy.pdf", pdf)
    assert [(i.locator, i.question) for i in doc.items] == [("§1", "Backups"), ("§2", "Logging")]
    assert "30 days" in doc.items[0].answer


# --------------------------------------------------------------------------- bad input


def test_unknown_type() -> None:
    with pytest.raises(IngestError, match=r"notes\.rtf: unsupported file type '\.rtf'"):
        parse_bytes("notes.rtf", b"{\\rtf1}")


def test_old_xls_has_a_helpful_message() -> None:
    with pytest.raises(IngestError, match=r"save the sheet as \.xlsx"):
        parse_bytes("old.xls", b"\xd0\xcf\x11\xe0")


@pytest.mark.parametrize("name", ["empty.csv", "empty.xlsx", "empty.txt"])
def test_empty_file(name: str) -> None:
    with pytest.raises(IngestError, match=rf"{name}: the file is empty"):
        parse_bytes(name, b"")


def test_corrupt_xlsx() -> None:
    with pytest.raises(IngestError, match=r"broken\.xlsx: not a valid \.xlsx workbook"):
        parse_bytes("broken.xlsx", b"PK\x03\x04 this is not really a zip archive" * 10)


def test_password_protected_xlsx(tmp_path: Path) -> None:
    plain = io.BytesIO(xlsx_bytes(customer_workbook))
    encrypted = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", encrypted)
    with pytest.raises(IngestError, match=r"locked\.xlsx: the workbook is password-protected"):
        parse_bytes("locked.xlsx", encrypted.getvalue())


def test_sheet_without_question_column_names_file_and_sheet() -> None:
    def build(wb: openpyxl.Workbook) -> None:
        ws = wb.active
        ws.title = "Prices"
        ws.append(["Plan", "Price"])
        ws.append(["Basic", 100])

    with pytest.raises(IngestError) as info:
        parse_bytes("prices.xlsx", xlsx_bytes(build))
    assert info.value.sheet == "Prices"
    assert str(info.value).startswith("prices.xlsx, sheet 'Prices': no header row with a question column")


def test_file_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"Question,Answer\n" + b"q,a\n" * 300_000)
    with pytest.raises(IngestError, match=r"big\.csv: the file is 1\.2 MB; the limit is 1 MB"):
        parse_file(big, Limits(max_file_bytes=1_000_000))


def test_oversized_cell_skips_the_row_and_says_where() -> None:
    text = "No,Question,Answer\n1,Backups?,Daily\n2,Logs?," + "x" * 500 + "\n"
    doc = parse_bytes("sheet.csv", text.encode(), Limits(max_cell_chars=100))
    assert [i.locator for i in doc.items] == ["No.1"]
    (skip,) = doc.skipped
    assert skip.row == 3 and "longer than 100 characters" in skip.reason


def test_text_without_table_or_sections() -> None:
    with pytest.raises(IngestError, match=r"memo\.txt: no question table and no numbered sections"):
        parse_bytes("memo.txt", b"just a note\nwith two lines\n")
