"""Cursor pagination and sparse fieldsets: the one way every list endpoint pages.

A cursor is an opaque, URL-safe encoding of the sort key of the last row returned;
the next page continues strictly after it, so inserts never shift or repeat rows.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from loom.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PageParams:
    limit: int = 50
    cursor: str | None = None
    fields: frozenset[str] | None = None


async def page_params(  # async: FastAPI would run a plain `def` in a worker thread
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    fields: Annotated[
        str | None, Query(description="Comma-separated fields to return (sparse fieldset)")
    ] = None,
) -> PageParams:
    wanted = frozenset(f.strip() for f in fields.split(",") if f.strip()) if fields else None
    return PageParams(limit=limit, cursor=cursor, fields=wanted)


PageDep = Annotated[PageParams, Depends(page_params)]


def _encode_value(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["d", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, int):
        return ["i", value]
    return ["s", str(value)]


_DECODERS: dict[str, Any] = {"d": datetime.fromisoformat, "u": uuid.UUID, "i": int, "s": str}


def _decode_value(tagged: Any) -> Any:
    tag, raw = tagged
    return _DECODERS[tag](raw)


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = [_decode_value(v) for v in json.loads(base64.urlsafe_b64decode(padded))]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInput.on("cursor", "not a cursor returned by this endpoint") from None
    if len(values) != width:
        raise InvalidInput.on("cursor", "not a cursor returned by this endpoint")
    return values


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    key: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    *,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """Run `stmt` (selecting one entity) ordered by `key`, one page after `params.cursor`.

    `key` must be unique together (end it with the primary key).
    """
    if params.cursor:
        values = decode_cursor(params.cursor, len(key))
        after = tuple_(*[literal(v, type_=col.type) for col, v in zip(key, values, strict=True)])
        stmt = stmt.where(tuple_(*key) < after if descending else tuple_(*key) > after)
    order = [col.desc() if descending else col.asc() for col in key]
    rows = list((await session.scalars(stmt.order_by(*order).limit(params.limit + 1))).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        next_cursor = encode_cursor([getattr(rows[-1], col.key) for col in key])
    return rows, next_cursor


def sparse(item: BaseModel, fields: frozenset[str] | None) -> dict[str, Any]:
    """The item as JSON data, limited to `fields` (unknown names are a 422)."""
    data = item.model_dump(mode="json")
    if fields is None:
        return data
    unknown = fields - data.keys()
    if unknown:
        raise InvalidInput.on("fields", f"unknown field(s): {', '.join(sorted(unknown))}")
    return {k: v for k, v in data.items() if k in fields}


def page_body(
    items: Sequence[BaseModel], next_cursor: str | None, params: PageParams
) -> dict[str, Any]:
    return {"items": [sparse(i, params.fields) for i in items], "next_cursor": next_cursor}


def paginate_list(
    items: Sequence[T], key: Callable[[T], Sequence[Any]], params: PageParams
) -> tuple[list[T], str | None]:
    """`paginate` for lists already in memory, sorted ascending by `key` (unique)."""
    if params.cursor:
        after = decode_cursor(params.cursor, len(key(items[0])) if items else 0) if items else None
        if after is not None:
            items = [i for i in items if list(key(i)) > after]
    page = list(items[: params.limit])
    next_cursor = encode_cursor(list(key(page[-1]))) if len(items) > params.limit else None
    return page, next_cursor
