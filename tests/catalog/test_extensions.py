"""Document kinds registered by other domains: read from their folder, validated like the
catalog's own, handed to their hook in the sync's transaction; a hook that fails writes
nothing and is reported, while the catalog still syncs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from loom.auth.models import Team
from loom.catalog import extensions
from loom.catalog.extensions import DocumentKind, KindBatch, KindProblem
from loom.catalog.sync import sync
from loom.catalog.webhooks import touches_catalog
from loom.platform.runtime import Runtime
from tests.catalog.conftest import write_catalog


class WidgetMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    size: int = 1


class Widget(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    apiVersion: Literal["loom/v1"]
    kind: Literal["Widget"]
    metadata: WidgetMeta


def widget(widget_id: str, size: Any = 1) -> str:
    return f"apiVersion: loom/v1\nkind: Widget\nmetadata:\n  id: {widget_id}\n  size: {size}\n"


async def test_documents_reach_their_hook_and_a_failing_hook_writes_nothing(
    runtime: Runtime, catalog_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[KindBatch] = []

    async def apply(
        session: Any, org_id: uuid.UUID, batch: KindBatch, actor: Any
    ) -> list[KindProblem]:
        seen.append(batch)
        session.add(Team(org_id=org_id, slug=f"half-{len(seen)}", name="Half"))
        await session.flush()
        if len(batch.entries) > 1:
            raise RuntimeError("boom")
        return [KindProblem(batch.entries[0], ("metadata", "size"), "too small")]

    kind = DocumentKind("Widget", "widgets", Widget, apply)
    monkeypatch.setitem(extensions._KINDS, "Widget", kind)
    write_catalog(
        catalog_dir, {"widgets/a.yaml": widget("a"), "widgets/bad.yaml": widget("b", "x")}
    )
    record = await sync(runtime, trigger="test")
    assert [b.entries[0].id for b in seen] == ["a"]
    assert seen[0].entries[0].owner == "platform"  # from CODEOWNERS
    assert seen[0].rejected == {"b"}
    assert {(p["file"], p["line"], p["path"]) for p in record.problems} == {
        ("widgets/a.yaml", 5, "metadata.size"), ("widgets/bad.yaml", 5, "metadata.size"),
    }  # fmt: skip

    write_catalog(catalog_dir, {"widgets/bad.yaml": widget("b", 2)})
    record = await sync(runtime, trigger="test")
    assert record.status == "partial"
    assert [p["message"] for p in record.problems] == [
        "Widget documents not applied (RuntimeError, see the logs)"
    ]
    assert record.items == 2  # the catalog itself still synced
    async with runtime.sessions() as session:
        teams = await session.scalars(select(Team.slug).where(Team.slug.like("half-%")))
        # The first sync's team is there; the failing second sync's was rolled back.
        assert teams.all() == ["half-1"]


def test_a_push_touching_a_registered_folder_starts_a_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    async def apply(*_: Any) -> list[KindProblem]:
        return []

    monkeypatch.setitem(
        extensions._KINDS, "Widget", DocumentKind("Widget", "widgets", Widget, apply)
    )
    assert touches_catalog({"commits": [{"modified": ["widgets/a.yaml"]}]})
    assert not touches_catalog({"commits": [{"modified": ["docs/widgets.md"]}]})
