"""The GitHub Actions half of the fake GitHub's API (loom/demo/fakes/github.py): workflows,
`workflow_dispatch` (inputs checked against the workflow file at the ref; 204, or 200
with the run when `return_run_details` is sent and known), runs (filtered by event,
branch, status and `created`) and artifacts, whose zip redirects to a second server.

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import yaml

from loom.demo.fakes.github_git import Artifact, Repo, Run, Workflow, iso
from loom.demo.fakes.github_wire import DOCS, ApiBase, error
from loom.demo.fakes.server import FakeServer, RecordedCall, Reply


class ActionsApi(ApiBase):
    """Handlers of /actions/workflows, /actions/runs and /actions/artifacts."""

    downloads: FakeServer
    run_details: bool
    hide_new_runs: bool
    repos: dict[str, Repo]

    def _workflow(self, repo: Repo, key: str) -> Workflow | None:
        key = unquote(key)
        for workflow in repo.workflows.values():
            if key in (str(workflow.id), workflow.path.rsplit("/", 1)[-1]):
                return workflow
        return None

    def _get_workflow(self, call: RecordedCall, repo: Repo) -> Reply:
        workflow = self._workflow(repo, call.params["wf"])
        if workflow is None:
            return error(404, "Not Found", DOCS + "/actions/workflows#get-a-workflow")
        api, web = self._links(repo)
        return Reply(json={
            "id": workflow.id, "node_id": f"W_{workflow.id}", "name": workflow.name,
            "path": workflow.path, "state": "active", "created_at": iso(workflow.created_at),
            "updated_at": iso(workflow.created_at), "url": f"{api}/actions/workflows/{workflow.id}",
            "html_url": f"{web}/blob/{repo.default_branch}/{workflow.path}",
            "badge_url": f"{web}/workflows/{quote(workflow.name)}/badge.svg",
        })  # fmt: skip

    def _dispatch(self, call: RecordedCall, repo: Repo) -> Reply:
        workflow = self._workflow(repo, call.params["wf"])
        if workflow is None:
            return error(
                404, "Not Found", DOCS + "/actions/workflows#create-a-workflow-dispatch-event"
            )
        body = call.json()
        unknown = sorted(
            set(body) - {"ref", "inputs", *(["return_run_details"] if self.run_details else [])}
        )
        if unknown:
            return error(422, f'Invalid request.\n\n"{unknown[0]}" is not a permitted key.')
        ref = str(body.get("ref", ""))
        commit = repo.resolve(ref)
        if commit is None:
            return error(422, f"No ref found for: {ref}")
        document = yaml.safe_load(commit.tree.get(workflow.path, b"{}")) or {}
        trigger = document.get("on", document.get(True))
        if not isinstance(trigger, dict) or "workflow_dispatch" not in trigger:
            return error(422, "Workflow does not have 'workflow_dispatch' trigger")
        declared = (trigger["workflow_dispatch"] or {}).get("inputs") or {}
        inputs = body.get("inputs") or {}
        if len(inputs) > 25:
            return error(
                422, "you may only define up to 25 `inputs` for a `workflow_dispatch` event"
            )
        if extra := sorted(set(inputs) - set(declared)):
            return error(422, f"Unexpected inputs provided: {json.dumps(extra)}")
        for name, spec in declared.items():
            if (spec or {}).get("required") and name not in inputs and "default" not in spec:
                return error(422, f"Required input '{name}' not provided")
        title = str(document.get("run-name") or workflow.name)
        title = re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}",
                       lambda m: str(inputs.get(m[1], "")), title)  # fmt: skip
        run = repo.new_run(workflow, ref, title, inputs)
        run.visible = not self.hide_new_runs
        if body.get("return_run_details"):
            api, web = self._links(repo)
            details = {
                "workflow_run_id": run.id,
                "run_url": f"{api}/actions/runs/{run.id}",
                "html_url": f"{web}/actions/runs/{run.id}",
            }
            return Reply(200, json=details)
        return Reply(204)

    def _run_json(self, repo: Repo, run: Run) -> dict[str, Any]:
        api, web = self._links(repo)
        return {
            "id": run.id, "name": run.workflow.name, "node_id": f"WFR_{run.id}",
            "head_branch": run.head_branch, "head_sha": run.head_sha, "path": run.workflow.path,
            "display_title": run.display_title, "run_number": run.run_number,
            "event": "workflow_dispatch", "status": run.status, "conclusion": run.conclusion,
            "workflow_id": run.workflow.id, "url": f"{api}/actions/runs/{run.id}",
            "html_url": f"{web}/actions/runs/{run.id}", "created_at": iso(run.created_at),
            "updated_at": iso(run.updated_at), "run_attempt": 1,
            "run_started_at": iso(run.created_at),
            "artifacts_url": f"{api}/actions/runs/{run.id}/artifacts",
            "workflow_url": f"{api}/actions/workflows/{run.workflow.id}",
            "actor": {"login": "loom-bot"}, "triggering_actor": {"login": "loom-bot"},
        }  # fmt: skip

    def _list_runs(self, call: RecordedCall, repo: Repo) -> Reply:
        workflow = self._workflow(repo, call.params["wf"])
        if workflow is None:
            return error(
                404, "Not Found", DOCS + "/actions/workflow-runs#list-workflow-runs-for-a-workflow"
            )
        query = {key: values[0] for key, values in call.query.items()}
        runs = [
            run for run in sorted(repo.runs.values(), key=lambda r: -r.id)
            if run.workflow is workflow and run.visible
            and query.get("event", "workflow_dispatch") == "workflow_dispatch"
            and query.get("branch", run.head_branch) == run.head_branch
            and query.get("status", run.status) in (run.status, run.conclusion)
            and _created_matches(query.get("created"), run.created_at)
        ]  # fmt: skip
        return self._page(call, [self._run_json(repo, r) for r in runs], "workflow_runs")

    def _get_run(self, call: RecordedCall, repo: Repo) -> Reply:
        run = repo.runs.get(int(call.params["run"]))
        if run is None:
            return error(404, "Not Found", DOCS + "/actions/workflow-runs#get-a-workflow-run")
        return Reply(json=self._run_json(repo, run))

    def _artifact_json(self, repo: Repo, artifact: Artifact) -> dict[str, Any]:
        api, _ = self._links(repo)
        return {
            "id": artifact.id, "node_id": f"A_{artifact.id}", "name": artifact.name,
            "size_in_bytes": len(artifact.zip_bytes),
            "url": f"{api}/actions/artifacts/{artifact.id}",
            "archive_download_url": f"{api}/actions/artifacts/{artifact.id}/zip",
            "expired": artifact.expired, "created_at": iso(artifact.created_at),
            "expires_at": iso(artifact.created_at + timedelta(days=90)),
            "workflow_run": {"id": artifact.run_id, "repository_id": repo.id},
        }  # fmt: skip

    def _list_artifacts(self, call: RecordedCall, repo: Repo) -> Reply:
        run_id = int(call.params["run"])
        if run_id not in repo.runs:
            return error(404, "Not Found")
        name = call.query.get("name", [None])[0]
        found = [
            self._artifact_json(repo, a)
            for a in repo.artifacts.values()
            if a.run_id == run_id and (name is None or a.name == name)
        ]
        return self._page(call, found, "artifacts")

    def _artifact_zip(self, call: RecordedCall, repo: Repo) -> Reply:
        artifact = repo.artifacts.get(int(call.params["artifact"]))
        if artifact is None:
            return error(404, "Not Found")
        if artifact.expired:
            return error(410, "Artifact has expired")
        signature = secrets.token_hex(8)
        location = f"{self.downloads.url}/blobs/{artifact.id}?sig={signature}"
        return Reply(302, headers={"Location": location})

    def _download(self, call: RecordedCall) -> Reply:
        for repo in self.repos.values():
            artifact = repo.artifacts.get(int(call.params["artifact"]))
            if artifact is not None:
                return Reply(body=artifact.zip_bytes, headers={"Content-Type": "application/zip"})
        return Reply(404, body="<Error><Code>BlobNotFound</Code></Error>",
                     headers={"Content-Type": "application/xml"})  # fmt: skip


def _created_matches(spec: str | None, created: datetime) -> bool:
    """GitHub's `created` filter: `>=X`, `>X`, `<=X`, `<X`, `X..Y` or a date/time."""
    if not spec:
        return True

    def at(value: str, end_of_day: bool = False) -> datetime:
        if "T" not in value:
            value += "T23:59:59Z" if end_of_day else "T00:00:00Z"
        return datetime.fromisoformat(value)

    for op, test in (
        (">=", datetime.__ge__),
        ("<=", datetime.__le__),
        (">", datetime.__gt__),
        ("<", datetime.__lt__),
    ):
        if spec.startswith(op):
            return bool(test(created, at(spec[len(op) :], op.startswith("<"))))
    if ".." in spec:
        low, high = spec.split("..", 1)
        return at(low) <= created <= at(high, True)
    return at(spec) <= created <= at(spec, True)
