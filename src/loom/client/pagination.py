"""Cursor pagination as the API does it: `?limit=&cursor=` → `{items, next_cursor}`, and
an iterator that follows `next_cursor` until the last page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def iterate(fetch: Callable[[str | None], Page[T]], *, max_items: int | None = None) -> Iterator[T]:
    """Yield every item of every page, asking `fetch(cursor)` for each page in turn.

    Stops after `max_items` items when given; only fetches a page when it is needed.
    """
    cursor: str | None = None
    seen = 0
    while True:
        page = fetch(cursor)
        for item in page.items:
            if max_items is not None and seen >= max_items:
                return
            seen += 1
            yield item
        if not page.next_cursor or (max_items is not None and seen >= max_items):
            return
        cursor = page.next_cursor
