"""Query helpers shared by every domain."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, String, Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

_ID_ARRAY = ARRAY(PG_UUID(as_uuid=True))
_TEXT_ARRAY = ARRAY(String())


def one_of(session: AsyncSession, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL one array parameter (`= ANY($1)`): the
    statement's text stays the same whatever the number of values, so it is prepared
    and planned once per connection, not once per list length as `IN ($1, $2...)`
    would be. Values are ids (UUID columns) or strings."""
    if session.get_bind().dialect.name == "postgresql":
        array = _ID_ARRAY if isinstance(column.type, Uuid) else _TEXT_ARRAY
        return column == any_(bindparam(None, list(values), type_=array))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


async def names_by_id(
    session: AsyncSession, column: Any, key: Any, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Any]:
    """`column` (a name, a slug) of the rows whose `key` is one of `ids` (one query; none
    for no ids)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(key, column).where(key.in_(wanted)))
    return {row[0]: row[1] for row in rows}
