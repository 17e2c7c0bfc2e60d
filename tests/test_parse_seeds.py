"""The five real seed sheets parse into the rows a person sees in them."""

from __future__ import annotations

import pytest

from service.ingest import parse_file
from tests.conftest import seed

# Counted by hand from the files: 000 numbers its rows 1-48; 001 has 37 single-answer rows and
# 30 rows (No.38-67) answered for 3 products each; 002 has 104 markdown rows less 5 header and 5
# separator rows; 003 has 13 numbered sections; 004 has 2+5+4+2+6+31+1+3+5+6+4 items by section.
EXPECTED_ENTRIES = {"000": 48, "001": 37 + 30 * 3, "002": 94, "003": 13, "004": 69}


@pytest.mark.parametrize("prefix", sorted(EXPECTED_ENTRIES))
def test_entry_count_per_seed(prefix: str) -> None:
    doc = parse_file(seed(prefix))
    answered = [i for i in doc.items if i.answer]
    assert len(answered) == EXPECTED_ENTRIES[prefix]
    assert all(i.question for i in doc.items)


def by_locator(prefix: str, locator: str, product: str | None = None):  # noqa: ANN201
    doc = parse_file(seed(prefix))
    found = [i for i in doc.items if i.locator == locator and (product is None or i.product == product)]
    assert found, f"no item {locator} in seed {prefix}"
    return found


def test_seed_000_tab_table_with_section_rows() -> None:
    (item,) = by_locator("000", "No.19")
    assert "バックアップ" in item.question
    assert "バックアップ" in item.answer
    assert item.section == ["クラウドサービス運用におけるオペレーションの確認"]
    doc = parse_file(seed("000"))
    assert str(doc.sheet_date) == "2019-10-03"
    (no42,) = by_locator("000", "No.42")
    assert "IP制限" in no42.answer and "フォームメーカー for Server" in no42.notes


def test_seed_001_one_entry_per_product() -> None:
    items = by_locator("001", "No.54")
    assert sorted(i.product for i in items) == ["AIRsMEMBERS/Myリスト", "OpenMill/QuickMill", "OrderMill"]
    assert all("ログ" in i.question for i in items)
    assert all(i.section[-1] == "セキュリティ" for i in items)
    # A row that lost its merged category cell is realigned: the answers stay under the products.
    for item in by_locator("001", "No.61"):
        assert item.answer == "有り（SSL暗号化）" and item.choice == "yes"
        assert "暗号化措置" in item.question
    # HTML from the web export is gone; single-answer rows have no product.
    (no2,) = by_locator("001", "No.2")
    assert no2.question == "ISMS認証を取得しているか" and no2.product is None
    assert "<" not in no2.answer and no2.section == ["情報セキュリティにかかわる第三者認証の取得"]


def test_seed_002_markdown_with_broken_and_shifted_rows() -> None:
    items = {i.row: i for i in parse_file(seed("002")).items}
    assert items[44].question == "バックアップ世代数 / 保証する世代数" and items[44].answer == "14世代"
    assert items[44].section == ["データ管理"]  # carried down from the row that had it
    # A row whose answer cell ran onto the next line.
    assert items[41].answer.startswith("1日 1 回 4:00 am JST") and "14世代保管" in items[41].answer
    # A row whose first cells were merged away keeps its label from the row above.
    assert items[70].question.startswith("管理者アカウントの運用要件 / パスワード変更機能")
    assert items[70].choice == "yes"


def test_seed_003_prose_sections() -> None:
    doc = parse_file(seed("003"))
    assert doc.kind == "prose"
    (section4,) = [i for i in doc.items if i.locator == "§4"]
    assert section4.question == "暗号化の状況"
    assert "TLS" in section4.answer and "暗号化" in section4.answer
    # The sentence broken across a page is joined back.
    assert "各機能で利用するデータなど) は、暗号化されずに" in section4.answer
    assert str(doc.sheet_date) == "2025-07-01"  # the newest revision in its history


def test_seed_004_three_level_numbering() -> None:
    (backup,) = by_locator("004", "6-8")
    assert "バックアップ" in backup.question and "バックアップ" in backup.answer
    assert backup.section == ["6 運用のセキュリティ・アクセス制御"]
    (hr,) = by_locator("004", "3-2-1")
    assert hr.section == ["3 人的資源のセキュリティ", "2 雇用期間中"]
    # An item whose number ran into its question text.
    (item,) = by_locator("004", "11-3")
    assert item.question.startswith("従業員のパソコンにウイルス対策")
