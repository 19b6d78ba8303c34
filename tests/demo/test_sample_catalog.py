"""The sample catalog and the demo agree: every output a sample action declares is one its
action type produces (so a later `.output.x` is never empty at run time), and the demo
integrations hold the JIRA projects, repositories and workflows the samples name."""

from __future__ import annotations

import re
from typing import Any

import pytest

from loom.catalog.documents import CatalogItem
from loom.catalog.loader import LoadedCatalog, load_directory
from loom.demo import world
from tests.demo.conftest import EXAMPLES

#: What each action type puts in its task's outputs whatever its config says.
FIXED_OUTPUTS = {
    "jira-ticket": {"ticketKey", "ticketUrl", "ticketStatus"},
    "github-commit": {"commitSha", "commitUrl", "branch", "prUrl", "prNumber", "mergeCommitSha"},
    "github-workflow": {"runId", "runUrl", "conclusion"},
    "terraform-run": {"run_id", "run_url", "has_changes"},
    "rest-api": set(),
    "approval": set(),
}
_METADATA = re.compile(r"^\{\{ *\.metadata\.([\w-]+)\.custom\.(\w+) *\}\}$")


@pytest.fixture(scope="module")
def sample() -> LoadedCatalog:
    return load_directory(EXAMPLES)


def _items(sample: LoadedCatalog) -> list[CatalogItem]:
    items = [entry.document for entry in sample.items.values()]
    assert all(isinstance(item, CatalogItem) for item in items)
    return items  # type: ignore[return-value]


def _produced(action_type: str, config: dict[str, Any]) -> set[str] | None:
    """The outputs an action can produce; None when any name may come (a callback's)."""
    if action_type == "callback":
        return None
    produced = set(FIXED_OUTPUTS[action_type])
    if action_type == "rest-api":
        produced |= set(config.get("outputMap", {}))
    if action_type == "github-workflow":
        produced |= set((config.get("outputsFrom") or {}).get("keys", []))
    if action_type == "terraform-run":
        listed = config.get("outputs", "all")
        if listed == "all":
            return None
        produced |= set(listed)
    return produced


def test_every_declared_output_is_produced_by_its_action(sample: LoadedCatalog) -> None:
    checked = 0
    for item in _items(sample):
        for action in item.spec.fulfillment.actions:
            produced = _produced(action.type, action.config)
            if produced is None:
                continue
            missing = set(action.outputs) - produced
            assert not missing, f"{item.metadata.id}.{action.id} declares {sorted(missing)}"
            checked += len(action.outputs)
    assert checked >= 20


def _literal(value: str, sample: LoadedCatalog) -> str | None:
    """A config value with `.metadata.<item>.custom.<key>` resolved; None for one that
    depends on the request."""
    match = _METADATA.match(value)
    if match:
        item, key = match.groups()
        return str(sample.items[item].document.metadata.custom[key])
    return None if "{{" in value else value


def test_the_demo_has_what_the_samples_name(sample: LoadedCatalog) -> None:
    projects = {project.key for project in world.JIRA_PROJECTS}
    repositories = set(world.REPOSITORIES)
    workflows = {(repo, file) for repo, file, _name, _inputs in world.WORKFLOWS}
    named: dict[str, set[Any]] = {"projects": set(), "repos": set(), "workflows": set()}
    for item in _items(sample):
        for action in item.spec.fulfillment.actions:
            config = action.config
            if action.type == "jira-ticket":
                named["projects"].add(_literal(config.get("project", "OPS"), sample))
            if action.type in ("github-commit", "github-workflow"):
                named["repos"].add(_literal(config["repo"], sample))
            if action.type == "github-workflow":
                repo = _literal(config["repo"], sample)
                named["workflows"].add((repo, config["workflow"]))
                inputs = next(
                    i for r, f, _n, i in world.WORKFLOWS if (r, f) == (repo, config["workflow"])
                )
                assert set(config.get("inputs", {})) <= set(inputs), action.id
    assert named["projects"] - {None} <= projects
    assert named["repos"] - {None} <= repositories
    assert named["workflows"] <= workflows
    assert {"DBA", "OPS", "SEC", "DATAGOV"} <= named["projects"]
