"""What the demo integrations hold when they start, and what their pretend automation
does: the JIRA projects, GitHub repositories and workflows, and Terraform organisation
the sample catalog (examples/catalog) uses, the outputs a demo Terraform apply leaves in
its workspace, and what a demo workflow run hands back when it finishes.

Demo only, not for production: nothing here reaches a real system."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from loom.demo.fakes.github import FakeGithub
from loom.demo.fakes.github_git import Repo, Run
from loom.demo.fakes.jira_model import Project

ORGANIZATION = "acme"
#: Where tickets go that name no project, escalations included.
DEFAULT_PROJECT = "OPS"
JIRA_PROJECTS = (
    Project("OPS", "10001", "Operations", components=("Network", "Storage")),
    Project("SEC", "10002", "Security"),
    Project("DBA", "10003", "Database administration"),
    Project("DATAGOV", "10004", "Data governance"),
)
#: Repositories the sample items commit to or run workflows in.
REPOSITORIES = {
    "acme/k8s-gitops": "Cluster state, synced by Argo CD.",
    "acme/repo-factory": "Creates repositories from the golden-path templates.",
    "acme/search-config": "Index templates of the shared OpenSearch clusters.",
    "acme/cart-service": "The cart service.",
}
#: (repository, workflow file, name, inputs): the workflows the sample items dispatch.
WORKFLOWS = (
    ("acme/k8s-gitops", "merge-and-sync.yml", "Merge and sync",
     ("pull_request", "cluster", "namespace")),
    ("acme/repo-factory", "create-repository.yml", "Create repository",
     ("name", "description", "template", "visibility", "team", "homepage",
      "branch_protection", "required_reviewers", "requested_by")),
)  # fmt: skip
#: The artifact a demo run's outputs are read from (the samples' `outputsFrom`).
OUTPUTS_ARTIFACT = "loom-outputs"


def seed_github(github: FakeGithub) -> None:
    for full_name, about in REPOSITORIES.items():
        github.add_repo(full_name, files={"README.md": f"# {full_name}\n\n{about}\n"})
    for full_name, file, name, inputs in WORKFLOWS:
        declared = {key: {"required": False} for key in (*inputs, "loom_task_id")}
        github.add_workflow(
            full_name, file, name=name, inputs=declared,
            run_name=f"{name} (${{{{ inputs.loom_task_id }}}})",
        )  # fmt: skip


def terraform_outputs(workspace: str) -> dict[str, Any]:
    """State outputs a demo apply leaves in `workspace`: one of each kind the sample
    items read (each item picks its own with the action's `outputs`)."""
    host = workspace.lower()
    return {
        "endpoint": f"{host}.cluster-demo.eu-west-1.rds.amazonaws.com",
        "port": 5432,
        "vault_path": f"kv/databases/{host}",
        "primary_endpoint": f"master.{host}.demo.euw1.cache.amazonaws.com",
        "reader_endpoint": f"replica.{host}.demo.euw1.cache.amazonaws.com",
        "role_arn": f"arn:aws:iam::123456789012:role/{host}",
        "dns_name": f"{host[:20]}-1234567890.eu-west-1.elb.amazonaws.com",
        "bucket_arn": f"arn:aws:s3:::acme-{host}",
    }


def finish_run(github: FakeGithub, repo: Repo, run: Run) -> None:
    """What a demo workflow does before its run completes: its effect, and the outputs
    artifact the sample's `outputsFrom` reads."""
    effect = _EFFECTS.get(run.workflow.path.rsplit("/", 1)[-1])
    if effect is None:
        return
    outputs = effect(github, repo, run.inputs)
    github.add_artifact(run.id, OUTPUTS_ARTIFACT, {"outputs.json": json.dumps(outputs)})


def _merge_and_sync(github: FakeGithub, repo: Repo, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge the pull request named in the inputs; the namespace's ingress hostname."""
    url = str(inputs.get("pull_request") or "")
    number = url.rstrip("/").rsplit("/", 1)[-1]
    if number.isdigit() and int(number) in repo.pulls and repo.pulls[int(number)].state == "open":
        github.merge_pull(repo.full_name, int(number))
    namespace = str(inputs.get("namespace") or "service")
    cluster = str(inputs.get("cluster") or "shared")
    return {"ingress_hostname": f"{namespace}.{cluster}.apps.acme.example"}


def _create_repository(github: FakeGithub, repo: Repo, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Create the repository the inputs name (from its 'template'); its URL."""
    name = str(inputs.get("name") or "new-repository")
    full_name = f"{ORGANIZATION}/{name}"
    if full_name.lower() not in github.repos:
        template = str(inputs.get("template") or "empty")
        readme = f"# {name}\n\nCreated from the {template} template.\n"
        github.add_repo(full_name, files={"README.md": readme})
    return {"repository_url": f"{github.web_url}/{full_name}"}


_EFFECTS: dict[str, Callable[[FakeGithub, Repo, Mapping[str, Any]], dict[str, Any]]] = {
    "merge-and-sync.yml": _merge_and_sync,
    "create-repository.yml": _create_repository,
}
