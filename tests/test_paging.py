"""`chunked` pages every id list Chroma and SQL receive: at its boundary nothing is lost or repeated."""

from __future__ import annotations

import pytest

from service.vector_store import chunked


def test_ten_ids_in_pages_of_three() -> None:
    ids = [f"id{i}" for i in range(10)]
    pages = [list(page) for page in chunked(ids, 3)]
    assert pages == [ids[0:3], ids[3:6], ids[6:9], ids[9:10]]
    assert [i for page in pages for i in page] == ids


@pytest.mark.parametrize(("count", "pages"), [(0, 0), (1, 1), (3, 1), (4, 2), (9, 3)])
def test_exact_multiples_and_edges(count: int, pages: int) -> None:
    got = list(chunked(list(range(count)), 3))
    assert len(got) == pages
    assert all(1 <= len(page) <= 3 for page in got)
    assert [i for page in got for i in page] == list(range(count))


def test_a_page_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(chunked([1, 2], 0))
