"""The demo's ticker moves the fakes' tickets and runs along, on its clock: tickets are
picked up, then done; workflow runs start, then succeed with their effect and outputs;
Terraform runs walk to applied with state outputs, or stop where a person must confirm."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest

from loom.demo import ticker, world
from loom.demo.fakes.github import FakeGithub
from loom.demo.fakes.github_git import Repo, Run
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.jira_model import Issue
from loom.demo.fakes.terraform import FakeRun, FakeTerraform
from loom.demo.ticker import Ticker
from tests.demo.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(projects=world.JIRA_PROJECTS) as fake:
        yield fake


@pytest.fixture
def github() -> Iterator[FakeGithub]:
    with FakeGithub() as fake:
        world.seed_github(fake)
        yield fake


@pytest.fixture
def terraform() -> Iterator[FakeTerraform]:
    with FakeTerraform(workspaces_on_demand=True) as fake:
        yield fake


def _ticket(jira: FakeJira, key: str = "OPS-1") -> str:
    issue = Issue("1", key, key.split("-")[0], "Task", "Add a record", None, [], [], "Medium", {})
    jira.issues[key] = issue
    return key


def test_a_ticket_is_picked_up_then_done(jira: FakeJira, clock: Clock) -> None:
    demo = Ticker(jira=jira, clock=clock)
    key = _ticket(jira)
    demo.tick()  # first seen now
    clock.now += ticker.TICKET_STARTED_AFTER - 1
    demo.tick()
    assert jira.statuses() == {key: "To Do"}
    clock.now += 1
    demo.tick()
    assert jira.statuses() == {key: "In Progress"}
    clock.now += ticker.TICKET_DONE_AFTER - ticker.TICKET_STARTED_AFTER
    demo.tick()
    assert jira.statuses() == {key: "Done"}
    assert jira.issues[key].resolution == "Done"


def _dispatch(github: FakeGithub, repo: str, workflow: str, inputs: dict[str, str]) -> Run:
    found = github.repo(repo)
    flow = next(w for w in found.workflows.values() if w.path.endswith(workflow))
    return found.new_run(flow, "main", flow.name, inputs)


def _outputs(github: FakeGithub, repo: Repo, run: Run) -> dict[str, str]:
    [artifact] = [a for a in repo.artifacts.values() if a.run_id == run.id]
    assert artifact.name == world.OUTPUTS_ARTIFACT
    with zipfile.ZipFile(io.BytesIO(artifact.zip_bytes)) as archive:
        return dict(json.loads(archive.read("outputs.json")))


def test_the_sync_workflow_merges_the_pull_request_and_names_the_ingress(
    github: FakeGithub, clock: Clock
) -> None:
    repo = github.repo("acme/k8s-gitops")
    repo.commit("loom/ns", "Namespace shop", {"ns.yaml": b"kind: Namespace\n"})
    pull = repo.new_pull("New namespace shop", None, "loom/ns", "main", False)
    url = f"{github.web_url}/acme/k8s-gitops/pull/{pull.number}"
    run = _dispatch(github, "acme/k8s-gitops", "merge-and-sync.yml",
                    {"pull_request": url, "cluster": "eu-west-1-shared", "namespace": "shop"})  # fmt: skip
    demo = Ticker(github=github, clock=clock)
    demo.tick()
    clock.now += ticker.RUN_STARTED_AFTER
    demo.tick()
    assert (run.status, run.conclusion, pull.merged) == ("in_progress", None, False)
    clock.now += ticker.RUN_DONE_AFTER - ticker.RUN_STARTED_AFTER
    demo.tick()
    assert (run.status, run.conclusion, pull.merged) == ("completed", "success", True)
    assert _outputs(github, repo, run) == {
        "ingress_hostname": "shop.eu-west-1-shared.apps.acme.example"
    }


def test_the_repository_workflow_creates_the_repository(github: FakeGithub, clock: Clock) -> None:
    run = _dispatch(github, "acme/repo-factory", "create-repository.yml",
                    {"name": "orders-api", "template": "service-python"})  # fmt: skip
    demo = Ticker(github=github, clock=clock)
    demo.tick()
    clock.now += ticker.RUN_DONE_AFTER
    demo.tick()
    assert "acme/orders-api" in github.repos
    assert _outputs(github, github.repo("acme/repo-factory"), run) == {
        "repository_url": f"{github.web_url}/acme/orders-api"
    }


def _run(terraform: FakeTerraform, workspace: str, *, auto_apply: bool) -> str:
    ws = terraform.add_workspace(workspace)
    run = FakeRun("run-demo" + workspace.replace("-", ""), ws.id, "Loom task 1", False,
                  auto_apply, False, [])  # fmt: skip
    terraform.runs[run.id] = run
    return run.id


def test_a_terraform_run_applies_step_by_step_with_state_outputs(
    terraform: FakeTerraform, clock: Clock
) -> None:
    run_id = _run(terraform, "staging-orders", auto_apply=True)
    demo = Ticker(terraform=terraform, clock=clock)
    seen = []
    for _ in range(8):
        demo.tick()
        seen.append(terraform.runs[run_id].status)
        clock.now += ticker.TERRAFORM_STEP
    assert seen[:6] == ["pending", "planning", "planned", "applying", "applied", "applied"]
    outputs = {o.name: o.value for o in terraform.workspace("staging-orders").outputs or []}
    assert outputs == world.terraform_outputs("staging-orders")


def test_a_run_that_needs_confirming_waits_for_a_person(
    terraform: FakeTerraform, clock: Clock
) -> None:
    run_id = _run(terraform, "prod-orders", auto_apply=False)
    demo = Ticker(terraform=terraform, clock=clock)
    for _ in range(6):
        demo.tick()
        clock.now += ticker.TERRAFORM_STEP
    assert terraform.runs[run_id].status == "planned"
