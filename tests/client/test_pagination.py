"""The page iterator follows next_cursor and fetches no page it does not need."""

from __future__ import annotations

from loom.client.pagination import Page, iterate

PAGES = {
    None: Page[int](items=[1, 2], next_cursor="a"),
    "a": Page[int](items=[3, 4], next_cursor="b"),
    "b": Page[int](items=[5], next_cursor=None),
}


def test_iterate_follows_every_cursor() -> None:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        return PAGES[cursor]

    assert list(iterate(fetch)) == [1, 2, 3, 4, 5]
    assert asked == [None, "a", "b"]


def test_iterate_stops_at_max_items_without_fetching_more() -> None:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        return PAGES[cursor]

    assert list(iterate(fetch, max_items=2)) == [1, 2]
    assert asked == [None]


def test_iterate_handles_an_empty_first_page() -> None:
    assert list(iterate(lambda cursor: Page[int](items=[]))) == []
