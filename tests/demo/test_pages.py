"""The demo integrations' web pages: the links Loom shows for a demo ticket, commit, pull
request or run open a page saying what it is (and that it is a demo fake), with what
people typed escaped."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from loom.demo import pages, world
from loom.demo.fakes.github import FakeGithub
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.jira_model import Issue
from loom.demo.fakes.terraform import FakeRun, FakeTerraform


@pytest.fixture
def fakes() -> Iterator[tuple[FakeJira, FakeGithub, FakeTerraform]]:
    with (
        FakeJira(projects=world.JIRA_PROJECTS) as jira,
        FakeGithub() as github,
        FakeTerraform() as terraform,
    ):
        world.seed_github(github)
        pages.install(jira, github, terraform)
        yield jira, github, terraform


def _html(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Demo integration." in response.text
    return response.text


def test_a_ticket_page_shows_its_status_links_and_escaped_text(
    fakes: tuple[FakeJira, FakeGithub, FakeTerraform],
) -> None:
    jira, _, _ = fakes
    for key, summary in (("DBA-1", "Onboard shop"), ("OPS-1", "<script>alert(1)</script>")):
        jira.issues[key] = Issue("1", key, key[:3], "Task", summary, "Endpoint: x", [], [],
                                 "Medium", {})  # fmt: skip
    jira.links.append(("Blocks", "DBA-1", "OPS-1"))
    jira.set_status("OPS-1", "In Progress")
    page = _html(httpx.get(f"{jira.url}/browse/OPS-1"))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<th>Status</th><td>In Progress</td>" in page
    assert "<th>Is blocked by</th><td>DBA-1</td>" in page
    assert "<th>Blocks</th><td>OPS-1</td>" in _html(httpx.get(f"{jira.url}/browse/DBA-1"))
    assert httpx.get(f"{jira.url}/browse/OPS-9").status_code == 404


def test_commit_pull_request_and_run_pages(
    fakes: tuple[FakeJira, FakeGithub, FakeTerraform],
) -> None:
    _, github, _ = fakes
    repo = github.repo("acme/k8s-gitops")
    commit = repo.commit("loom/ns", "Namespace shop\n\nLoom-Task: 7", {"ns.yaml": b"name: shop\n"})
    pull = repo.new_pull("New namespace shop", "Please merge", "loom/ns", "main", False)
    base = f"{github.web_url}/acme/k8s-gitops"
    page = _html(httpx.get(f"{base}/commit/{commit.sha}"))
    assert "<h1>Namespace shop</h1>" in page and "ns.yaml" in page and "name: shop" in page
    assert "README.md" not in page  # only what the commit changed
    assert "<th>State</th><td>open</td>" in _html(httpx.get(f"{base}/pull/{pull.number}"))
    github.merge_pull("acme/k8s-gitops", pull.number)
    assert "<th>State</th><td>merged</td>" in _html(httpx.get(f"{base}/pull/{pull.number}"))
    workflow = next(iter(repo.workflows.values()))
    run = repo.new_run(workflow, "main", "Merge and sync (7)", {"namespace": "shop"})
    page = _html(httpx.get(f"{base}/actions/runs/{run.id}"))
    assert "<th>Status</th><td>queued</td>" in page and "<th>namespace</th><td>shop</td>" in page
    assert httpx.get(f"{base}/pull/99").status_code == 404


def test_a_terraform_run_page_shows_its_variables_and_outputs_once_applied(
    fakes: tuple[FakeJira, FakeGithub, FakeTerraform],
) -> None:
    _, _, terraform = fakes
    workspace = terraform.add_workspace("staging-shop")
    run = FakeRun("run-abc123", workspace.id, "Loom task 7", False, True, False,
                  [{"key": "database_name", "value": '"shop"'}])  # fmt: skip
    terraform.runs[run.id] = run
    url = f"{terraform.url}/app/acme/workspaces/staging-shop/runs/{run.id}"
    page = _html(httpx.get(url))
    assert "<th>database_name</th><td>&quot;shop&quot;</td>" in page
    assert "State outputs" not in page
    terraform.set_outputs("staging-shop", {"endpoint": "db.example", "password": "s3cret"},
                          sensitive=["password"])  # fmt: skip
    terraform.finish(run.id)
    page = _html(httpx.get(url))
    assert "<th>endpoint</th><td>db.example</td>" in page
    assert "s3cret" not in page and "(sensitive)" in page
