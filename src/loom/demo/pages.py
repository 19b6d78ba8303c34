"""Web pages of the demo integrations, so the links Loom shows for demo tickets, commits,
pull requests and runs open something meaningful: JIRA's `/browse/<KEY>`, GitHub's
commit, pull request and run pages, Terraform's run page. Each is a small HTML page
that says plainly it belongs to a demo fake inside Loom.

Demo only, not for production."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

from loom.demo.fakes.github import FakeGithub
from loom.demo.fakes.jira import FakeJira
from loom.demo.fakes.jira_model import adf_text, is_adf
from loom.demo.fakes.server import Handler, RecordedCall, Reply
from loom.demo.fakes.terraform import FakeTerraform

_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
    ".demo{background:#fff3cd;border:1px solid #e0b400;padding:.5rem .75rem;border-radius:6px}"
    "pre{background:#f4f4f4;padding:.75rem;overflow:auto}th{text-align:left;padding-right:1rem}"
)


def install(
    jira: FakeJira | None, github: FakeGithub | None, terraform: FakeTerraform | None
) -> None:
    """Add the pages to the running fakes' servers."""
    if jira is not None:
        jira.server.route("GET", r"/browse/(?P<key>[A-Z][A-Z0-9_]*-\d+)", _ticket(jira))
    if github is not None:
        repo = r"/(?P<owner>(?!repos/|app/)[^/]+)/(?P<repo>[^/]+)"
        github.server.route("GET", repo + r"/commit/(?P<sha>[0-9a-f]{40})", _commit(github))
        github.server.route("GET", repo + r"/pull/(?P<number>\d+)", _pull(github))
        github.server.route("GET", repo + r"/actions/runs/(?P<run>\d+)", _run(github))
    if terraform is not None:
        run = r"/app/(?P<org>[^/]+)/workspaces/(?P<ws>[^/]+)/runs/(?P<run>run-[A-Za-z0-9]+)"
        terraform.server.route("GET", run, _terraform_run(terraform))


def _page(system: str, title: str, body: str, status: int = 200) -> Reply:
    text = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<link rel='icon' href='data:,'>"  # no favicon request for the fake to refuse
        f"<title>{html.escape(title)} · demo {system}</title><style>{_STYLE}</style></head>"
        f"<body><p class='demo'><strong>Demo integration.</strong> A fake {system} running "
        f"inside Loom for the demo, not a real {system}: what it holds is gone when Loom "
        f"stops.</p><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Reply(status, body=text, headers={"Content-Type": "text/html; charset=utf-8"})


def _rows(pairs: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>" for k, v in pairs
    )
    return f"<table>{cells}</table>"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _ticket(jira: FakeJira) -> Handler:
    def page(call: RecordedCall) -> Reply:
        key = call.params["key"]
        issue = jira.issues.get(key)
        if issue is None:
            return _page("JIRA", key, "<p>No such ticket.</p>", 404)
        links = list(jira.links)
        blocks = [out for kind, inward, out in links if kind == "Blocks" and inward == key]
        description = issue.description
        text = adf_text(description) if is_adf(description) else str(description or "")
        facts = _rows([
            ("Status", issue.status), ("Type", issue.issue_type), ("Project", issue.project),
            ("Priority", issue.priority), ("Labels", ", ".join(issue.labels)),
            ("Blocks", ", ".join(blocks) or "—"),
            ("Is blocked by", ", ".join(jira.blockers_of(key)) or "—"),
            ("Created", issue.created),
        ])  # fmt: skip
        return _page("JIRA", f"{key}: {issue.summary}", facts + "<h2>Description</h2>"
                     + _pre(text))  # fmt: skip

    return page


def _commit(github: FakeGithub) -> Handler:
    def page(call: RecordedCall) -> Reply:
        repo = github.repos.get(f"{call.params['owner']}/{call.params['repo']}".lower())
        commit = repo.commits.get(call.params["sha"]) if repo else None
        if repo is None or commit is None:
            return _page("GitHub", "Commit not found", "", 404)
        parent = repo.commits.get(commit.parents[0]) if commit.parents else None
        changed = {path: content for path, content in commit.tree.items()
                   if parent is None or parent.tree.get(path) != content}  # fmt: skip
        files = "".join(
            f"<h3>{html.escape(path)}</h3>" + _pre(content.decode(errors="replace"))
            for path, content in sorted(changed.items())
        )
        title = commit.message.splitlines()[0] if commit.message else commit.sha
        facts = _rows([("Repository", repo.full_name), ("Commit", commit.sha)])
        return _page("GitHub", title, facts + _pre(commit.message) + files)

    return page


def _pull(github: FakeGithub) -> Handler:
    def page(call: RecordedCall) -> Reply:
        repo = github.repos.get(f"{call.params['owner']}/{call.params['repo']}".lower())
        pull = repo.pulls.get(int(call.params["number"])) if repo else None
        if repo is None or pull is None:
            return _page("GitHub", "Pull request not found", "", 404)
        state = "merged" if pull.merged else pull.state
        facts = _rows([
            ("Repository", repo.full_name), ("State", state),
            ("From", f"{pull.head} into {pull.base}"), ("Head commit", pull.head_sha),
        ])  # fmt: skip
        return _page("GitHub", f"{pull.title} #{pull.number}", facts + _pre(pull.body or ""))

    return page


def _run(github: FakeGithub) -> Handler:
    def page(call: RecordedCall) -> Reply:
        repo = github.repos.get(f"{call.params['owner']}/{call.params['repo']}".lower())
        run = repo.runs.get(int(call.params["run"])) if repo else None
        if repo is None or run is None:
            return _page("GitHub", "Workflow run not found", "", 404)
        facts = _rows([
            ("Repository", repo.full_name), ("Workflow", run.workflow.name),
            ("Status", run.status), ("Conclusion", run.conclusion or "—"),
            ("Branch", run.head_branch),
        ])  # fmt: skip
        inputs = _rows(sorted(run.inputs.items()))
        return _page("GitHub", run.display_title, facts + "<h2>Inputs</h2>" + inputs)

    return page


def _terraform_run(terraform: FakeTerraform) -> Handler:
    def page(call: RecordedCall) -> Reply:
        run = terraform.runs.get(call.params["run"])
        if run is None:
            return _page("Terraform", "Run not found", "", 404)
        workspace = terraform.workspaces.get(run.workspace_id)
        facts = _rows([
            ("Workspace", workspace.name if workspace else run.workspace_id),
            ("Status", run.status), ("Message", run.message),
        ])  # fmt: skip
        variables = _rows((v["key"], v["value"]) for v in run.variables)
        outputs = ""
        if run.status == "applied" and workspace is not None and workspace.outputs:
            shown = [(o.name, "(sensitive)" if o.sensitive else o.value)
                     for o in workspace.outputs]  # fmt: skip
            outputs = "<h2>State outputs</h2>" + _rows(shown)
        return _page("Terraform", f"Run {run.id}", facts + "<h2>Variables</h2>" + variables
                     + outputs)  # fmt: skip

    return page
