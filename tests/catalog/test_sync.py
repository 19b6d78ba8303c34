"""Syncing: new versions when a definition changes, the last good version served when a
document breaks, retirement when one is removed, git sources, and the sync record."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from loom.catalog.models import KEEP_VERSIONS, CatalogEntry, CatalogEntryVersion, CatalogSync
from loom.catalog.sync import sync
from loom.platform.runtime import Runtime
from tests.catalog.conftest import NAMESPACE, POSTGRES, git, write_catalog


async def _entries(runtime: Runtime) -> dict[str, CatalogEntry]:
    async with runtime.sessions() as s:
        return {e.entry_id: e for e in await s.scalars(select(CatalogEntry))}


async def _versions(runtime: Runtime, entry_id: str) -> list[CatalogEntryVersion]:
    async with runtime.sessions() as s:
        rows = await s.scalars(
            select(CatalogEntryVersion)
            .where(CatalogEntryVersion.entry_id == entry_id)
            .order_by(CatalogEntryVersion.created_at.desc())
        )
        return list(rows)


async def test_first_sync_stores_entries_with_owners(synced: Runtime) -> None:
    entries = await _entries(synced)
    assert set(entries) == {"postgres", "namespace", "web-service"}
    assert entries["postgres"].owner_team == "data"  # CODEOWNERS
    assert entries["namespace"].owner_team == "payments"  # metadata.owner wins
    assert entries["namespace"].owner_team_id is None  # no such team in this org
    assert entries["web-service"].kind == "CatalogBundle"
    assert [v.version for v in await _versions(synced, "postgres")] == ["1.0.0"]


async def test_unchanged_sync_adds_no_version(synced: Runtime) -> None:
    record = await sync(synced, trigger="test")
    assert record.changed == 0
    assert len(await _versions(synced, "postgres")) == 1


async def test_changed_definition_makes_a_new_version(synced: Runtime, catalog_dir: Path) -> None:
    write_catalog(
        catalog_dir,
        {"catalog/databases/postgres.yaml": POSTGRES.replace("version: 1.0.0", "version: 1.1.0")},
    )
    record = await sync(synced, trigger="test")
    assert record.changed == 1
    assert [v.version for v in await _versions(synced, "postgres")] == ["1.1.0", "1.0.0"]
    assert (await _entries(synced))["postgres"].version == "1.1.0"


async def test_only_the_last_versions_are_kept(synced: Runtime, catalog_dir: Path) -> None:
    for n in range(KEEP_VERSIONS + 3):
        text = POSTGRES.replace("version: 1.0.0", f"version: 2.{n}.0")
        write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": text})
        await sync(synced, trigger="test")
    versions = await _versions(synced, "postgres")
    assert len(versions) == KEEP_VERSIONS
    assert versions[0].version == f"2.{KEEP_VERSIONS + 2}.0"


async def test_broken_document_keeps_last_good_version_served(
    synced: Runtime, catalog_dir: Path
) -> None:
    broken = POSTGRES.replace('pattern: "[a-z][a-z0-9_]{2,30}"', 'pattern: "[a-z("')
    write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": broken})
    record = await sync(synced, trigger="test")
    assert record.status == "partial"
    [problem] = record.problems
    assert problem["text"].startswith(
        "catalog/databases/postgres.yaml:16 spec.form.fields[0].pattern"
    )
    entry = (await _entries(synced))["postgres"]
    assert entry.stale is True
    assert entry.definition["spec"]["form"]["fields"][0]["pattern"] == "[a-z][a-z0-9_]{2,30}"
    # The good documents beside it are untouched.
    assert (await _entries(synced))["namespace"].stale is False


async def test_removed_document_is_retired(synced: Runtime, catalog_dir: Path) -> None:
    write_catalog(catalog_dir, {"bundles/web-service.yaml": None})
    record = await sync(synced, trigger="test")
    assert record.changed == 1
    assert "web-service" not in await _entries(synced)


async def test_missing_source_is_a_failed_sync_that_changes_nothing(
    synced: Runtime, catalog_dir: Path
) -> None:
    before = await _entries(synced)
    catalog_dir.rename(catalog_dir.with_name("moved"))
    record = await sync(synced, trigger="test")
    assert record.status == "failed" and "does not exist" in (record.error or "")
    assert set(await _entries(synced)) == set(before)


async def test_concurrent_syncs_run_one_at_a_time(synced: Runtime) -> None:
    records = await asyncio.gather(*(sync(synced, trigger="test") for _ in range(3)))
    assert [r.status for r in records] == ["ok", "ok", "ok"]
    async with synced.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(CatalogSync)) == 4


@pytest.mark.sqlite_only
async def test_git_source_is_cloned_then_fetched(
    runtime: Runtime, catalog_dir: Path, tmp_path: Path
) -> None:
    git(catalog_dir, "init", "-q", "-b", "main")
    git(catalog_dir, "add", ".")
    git(catalog_dir, "commit", "-q", "-m", "first")
    first = git(catalog_dir, "rev-parse", "HEAD")
    runtime.settings.catalog.source = f"file://{catalog_dir}"
    record = await sync(runtime, trigger="test")
    assert record.status == "ok" and record.commit_sha == first
    assert (await _entries(runtime))["postgres"].commit_sha == first

    write_catalog(
        catalog_dir, {"catalog/kubernetes/namespace.yaml": NAMESPACE.replace("Kubernetes", "K8s")}
    )
    git(catalog_dir, "commit", "-q", "-am", "rename")
    second = git(catalog_dir, "rev-parse", "HEAD")
    record = await sync(runtime, trigger="test")
    assert record.commit_sha == second and record.changed == 1
    assert (await _entries(runtime))["namespace"].name == "K8s namespace"
    versions = await _versions(runtime, "namespace")
    assert [v.commit_sha for v in versions] == [second, first]


@pytest.mark.sqlite_only
async def test_unknown_git_branch_fails_cleanly(runtime: Runtime, catalog_dir: Path) -> None:
    git(catalog_dir, "init", "-q", "-b", "main")
    git(catalog_dir, "add", ".")
    git(catalog_dir, "commit", "-q", "-m", "first")
    runtime.settings.catalog.source = f"file://{catalog_dir}"
    runtime.settings.catalog.branch = "nope"
    record = await sync(runtime, trigger="test")
    assert record.status == "failed" and "git clone failed" in (record.error or "")


async def test_served_conditions_keep_their_operator(synced: Runtime, catalog_dir: Path) -> None:
    """A stored definition must not spell out unset condition keys as nulls: the
    evaluator tells `notEquals` from `equals: null` by which keys are set."""
    from loom.catalog.cache import CatalogCache
    from loom.catalog.documents import CatalogItem
    from loom.catalog.form_input import validate_input

    text = POSTGRES.replace(
        "        default: small\n",
        "        default: small\n"
        "      - id: standby\n        type: boolean\n"
        "        visibleIf: {field: size, notEquals: small}\n",
    )
    write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": text})
    await sync(synced, trigger="test")
    async with synced.sessions() as s:
        org_id = (await _entries(synced))["postgres"].org_id
        served = (await CatalogCache().entries(s, org_id))["postgres"].document
    assert isinstance(served, CatalogItem)
    result = validate_input(served, {"name": "orders", "size": "large", "standby": True})
    assert result.values == {"name": "orders", "size": "large", "standby": True}


async def test_unreadable_yaml_keeps_what_the_file_served(
    synced: Runtime, catalog_dir: Path
) -> None:
    write_catalog(
        catalog_dir, {"catalog/databases/postgres.yaml": POSTGRES + "  oops: [unclosed\n"}
    )
    record = await sync(synced, trigger="test")
    assert record.status == "partial"
    entries = await _entries(synced)
    assert entries["postgres"].stale is True  # not retired: its file is merely unreadable
    assert entries["web-service"].stale is False  # the bundle built on it stays valid
