"""A stateful fake JIRA Cloud (and Data Center) on a real local HTTP server, speaking
REST v2 and v3 closely enough that recorded real request/response pairs pass:

* `POST /rest/api/{2,3}/issue` → 201 `{"id", "key", "self"}`; 400
  `{"errorMessages": [], "errors": {field: message}}` for missing or unknown fields, a
  v3 description that is not an Atlassian Document (or a v2 one that is not a string),
  labels with spaces, unknown components, priorities or fields;
* `GET /rest/api/{2,3}/issue/{key or id}` (`?fields=` honoured) with `status`,
  `statusCategory`, `resolution`, `labels`, `issuelinks`...; 404 "Issue does not exist
  or you do not have permission to see it.";
* `POST /rest/api/{2,3}/issueLink` → 201 with an empty body (a duplicate link is not
  stored twice); `inwardIssue` is the one that "blocks", as JIRA really does it;
* `GET|POST /rest/api/{2,3}/search` (startAt/total; 410 Gone when `legacy_search=False`,
  as on Cloud since the removal) and `GET|POST /rest/api/{2,3}/search/jql`
  (nextPageToken/isLast; only issue ids unless `fields` is given; 404 when
  `search_jql=False`, as on Data Center), at most `max_page` issues a page, with the JQL
  of `loom.demo.fakes.jira_jql`;
* `GET|POST /rest/api/{2,3}/issue/{key}/transitions` (To Do 11, In Progress 21, Done 31;
  POST answers 204);
* basic auth (email:API token) and bearer (personal access token), else 401.

Its data and JSON shapes are in `loom.demo.fakes.jira_model`, its JQL in
`loom.demo.fakes.jira_jql`. `fail()` and `slow()` inject faults: a status instead of the
answer (optionally after the operation took effect, like a proxy losing the answer), or
a delay before it.

    with FakeJira() as jira:
        ... JIRA at jira.url, credentials jira.email / jira.token ...
        jira.set_status("OPS-1", "Done")

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loom.demo.fakes.jira_jql import JqlError, parse, sort_key
from loom.demo.fakes.jira_model import (
    LINK_TYPES,
    NOT_FOUND,
    RESOLUTIONS,
    SET_BY_CREATE,
    TRANSITIONS,
    Issue,
    Project,
    create_problems,
    errors,
    issue_json,
    status_json,
    wanted_fields,
)
from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

API = r"/rest/api/(?P<v>[23])"
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)


@dataclass
class Fault:
    status: int | None  # None: the normal answer, only late
    times: int
    method: str | None
    path: str | None
    delay: float
    after_effect: bool
    body: Any

    def applies(self, call: RecordedCall) -> bool:
        return (self.method is None or self.method == call.method) and (
            self.path is None or re.search(self.path, call.path) is not None
        )


class FakeJira:
    """See the module docstring."""

    def __init__(
        self,
        *,
        email: str = "loom-bot@acme.test",
        token: str = "jira-api-token-5c1e9d",  # noqa: S107 - a fake's credential
        pat: str = "jira-pat-77b0aa3f",
        projects: tuple[Project, ...] = (
            Project("OPS", "10001", "Operations", components=("Network", "Storage")),
            Project("SEC", "10002", "Security"),
        ),
        custom_fields: tuple[str, ...] = ("customfield_10010", "customfield_10042"),
        legacy_search: bool = True,
        search_jql: bool = True,
        max_page: int = 100,
    ) -> None:
        self.email, self.token, self.pat = email, token, pat
        self.projects = {p.key: p for p in projects}
        self.custom_fields = set(custom_fields)
        self.legacy_search, self.search_jql = legacy_search, search_jql
        self.max_page = max_page  # JIRA may answer fewer than maxResults per page
        self.issues: dict[str, Issue] = {}
        self.links: list[tuple[str, str, str]] = []  # (type, inward "blocks", outward)
        self.server = FakeServer()
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(10000)
        self._numbers = {key: itertools.count(1) for key in self.projects}
        self._routes()

    # --- the test's side -----------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def calls(self) -> list[RecordedCall]:
        return self.server.calls

    def calls_to(self, method: str, path_pattern: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method and re.search(path_pattern, c.path)]

    def fail(
        self,
        status: int = 500,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        body: Any = None,
        delay: float = 0.0,
        after_effect: bool = False,
    ) -> None:
        """Answer the next `times` matching calls with `status` (and `body`, default a
        JIRA-style error). `after_effect`: do the work first, then lose the answer."""
        with self._lock:
            self._faults.append(Fault(status, times, method, path, delay, after_effect, body))

    def slow(
        self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next `times` matching calls normally, `seconds` late."""
        with self._lock:
            self._faults.append(Fault(None, times, method, path, seconds, True, None))

    def set_status(self, key: str, status: str, resolution: str | None = None) -> None:
        with self._lock:
            self.issues[key].move(status, resolution)

    def statuses(self) -> dict[str, str]:
        """Each issue's key → its status now."""
        with self._lock:
            return {key: issue.status for key, issue in self.issues.items()}

    def blockers_of(self, key: str) -> list[str]:
        """Keys of the issues that block `key` (JIRA shows "is blocked by" on it)."""
        with self._lock:
            return [inward for kind, inward, outward in self.links
                    if kind == "Blocks" and outward == key]  # fmt: skip

    def labelled(self, label: str) -> list[Issue]:
        with self._lock:
            return [issue for issue in self.issues.values() if label in issue.labels]

    def start(self) -> FakeJira:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeJira:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- HTTP -----------------------------------------------------------------------

    def _routes(self) -> None:
        routes: list[tuple[str, str, Callable[[RecordedCall], Reply]]] = [
            ("POST", "/issue", self._create),
            ("GET", r"/issue/(?P<key>[^/]+)", self._get),
            ("GET", r"/issue/(?P<key>[^/]+)/transitions", self._transitions),
            ("POST", r"/issue/(?P<key>[^/]+)/transitions", self._transition),
            ("POST", "/issueLink", self._link),
            ("GET", "/search", self._legacy_search),
            ("POST", "/search", self._legacy_search),
            ("GET", "/search/jql", self._search_jql),
            ("POST", "/search/jql", self._search_jql),
        ]
        for method, path, handler in routes:
            self.server.route(method, API + path, self._guarded(handler))

    def _guarded(self, handler: Callable[[RecordedCall], Reply]) -> Callable[[RecordedCall], Reply]:
        def answer(call: RecordedCall) -> Reply:
            with self._lock:
                fault = self._take_fault(call)
            if fault is not None and not fault.after_effect:
                return self._fault_reply(fault, None)
            if not self._authenticated(call):
                return Reply(
                    401,
                    body="Client must be authenticated to access this resource.",
                    headers={"Content-Type": "text/plain;charset=UTF-8",
                             "X-Seraph-LoginReason": "AUTHENTICATED_FAILED"},
                )  # fmt: skip
            if call.method == "POST" and "json" not in call.headers.get("content-type", ""):
                return Reply(415, body="Unsupported Media Type")
            with self._lock:
                reply = handler(call)
            return reply if fault is None else self._fault_reply(fault, reply)

        return answer

    def _take_fault(self, call: RecordedCall) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.applies(call):
                fault.times -= 1
                return fault
        return None

    @staticmethod
    def _fault_reply(fault: Fault, reply: Reply | None) -> Reply:
        if fault.status is None and reply is not None:
            return Reply(reply.status, reply.json, reply.body, reply.headers, fault.delay)
        body = fault.body if fault.body is not None else errors([f"fake fault {fault.status}"])
        if isinstance(body, str):
            return Reply(fault.status or 500, body=body, delay=fault.delay)
        return Reply(fault.status or 500, json=body, delay=fault.delay)

    def _authenticated(self, call: RecordedCall) -> bool:
        scheme, _, credential = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return bool(self.pat) and credential == self.pat
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except ValueError:
                return False
            return decoded == f"{self.email}:{self.token}"
        return False

    # --- issues ---------------------------------------------------------------------

    def _create(self, call: RecordedCall) -> Reply:
        body = _json(call)
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return Reply(400, json=errors(["Can not deserialize the issue: 'fields' is missing"]))
        fields, version = body["fields"], call.params["v"]
        project = self._project(fields.get("project"))
        if project is None:
            return Reply(400, json=errors([], {"project": "Specify a valid project ID or key"}))
        problems = create_problems(fields, version, project, self.custom_fields)
        if problems:
            return Reply(400, json=errors([], problems))
        custom = {k: v for k, v in fields.items() if k not in SET_BY_CREATE}
        components = [c["name"] for c in fields.get("components") or []]
        priority = (fields.get("priority") or {}).get("name", "Medium")
        issue_type, summary = fields["issuetype"]["name"], fields["summary"]
        labels, description = fields.get("labels") or [], fields.get("description")
        issue_id = str(next(self._ids))
        key = f"{project.key}-{next(self._numbers[project.key])}"
        self.issues[key] = Issue(
            issue_id, key, project.key, str(issue_type), str(summary), description,
            list(labels), components, priority, custom,
        )  # fmt: skip
        return Reply(
            201,
            json={
                "id": issue_id,
                "key": key,
                "self": f"{self.url}/rest/api/{version}/issue/{issue_id}",
            },
        )

    def _get(self, call: RecordedCall) -> Reply:
        issue = self._find(call.params["key"])
        if issue is None:
            return Reply(404, json=errors([NOT_FOUND]))
        wanted = wanted_fields(call.query.get("fields", ["*all"])[0].split(","))
        return Reply(json=self._issue_json(issue, call.params["v"], wanted))

    def _transitions(self, call: RecordedCall) -> Reply:
        issue = self._find(call.params["key"])
        if issue is None:
            return Reply(404, json=errors([NOT_FOUND]))
        available = [
            {"id": tid, "name": name, "to": status_json(self.url, name), "hasScreen": False,
             "isGlobal": True, "isInitial": False, "isAvailable": True,
             "isConditional": False, "isLooped": False}
            for tid, name in TRANSITIONS.items() if name != issue.status
        ]  # fmt: skip
        return Reply(json={"expand": "transitions", "transitions": available})

    def _transition(self, call: RecordedCall) -> Reply:
        issue = self._find(call.params["key"])
        if issue is None:
            return Reply(404, json=errors([NOT_FOUND]))
        body = _json(call)
        transition = (body.get("transition") or {}) if isinstance(body, dict) else {}
        if "id" not in transition:
            return Reply(400, json=errors(["Missing 'transition' identifier"]))
        target = TRANSITIONS.get(str(transition["id"]))
        if target is None or target == issue.status:
            message = f"Transition id '{transition['id']}' is not valid for this issue."
            return Reply(400, json=errors([message]))
        resolution = ((body.get("fields") or {}).get("resolution") or {}).get("name")
        if resolution is not None and resolution not in RESOLUTIONS:
            return Reply(400, json=errors([], {"resolution": f"Resolution '{resolution}' is "
                                                "not valid"}))  # fmt: skip
        issue.move(target, resolution)
        return Reply(204)

    def _link(self, call: RecordedCall) -> Reply:
        body = _json(call)
        if not isinstance(body, dict):
            return Reply(400, json=errors(["Can not deserialize the issue link"]))
        kind = (body.get("type") or {}).get("name")
        if kind not in LINK_TYPES:
            return Reply(404, json=errors([f"No issue link type with name '{kind}' found."]))
        inward = self._find((body.get("inwardIssue") or {}).get("key", ""))
        outward = self._find((body.get("outwardIssue") or {}).get("key", ""))
        if inward is None or outward is None:
            return Reply(404, json=errors(["Issue Does Not Exist"]))
        link = (kind, inward.key, outward.key)
        if link not in self.links:
            self.links.append(link)
        return Reply(201)

    # --- search ---------------------------------------------------------------------

    def _legacy_search(self, call: RecordedCall) -> Reply:
        if not self.legacy_search:
            return Reply(410, json=errors([SEARCH_REMOVED]))
        params = _search_params(call)
        found = self._run_jql(str(params.get("jql") or ""), unbounded_ok=True)
        if isinstance(found, Reply):
            return found
        start = int(params.get("startAt") or 0)
        size = min(int(params.get("maxResults") or 50), self.max_page)
        wanted = wanted_fields(_field_list(params.get("fields"), "*navigable"))
        version = call.params["v"]
        return Reply(
            json={
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": [
                    self._issue_json(i, version, wanted) for i in found[start : start + size]
                ],
            }
        )

    def _search_jql(self, call: RecordedCall) -> Reply:
        if not self.search_jql:  # Data Center: no such resource
            message = f"null for uri: {self.url}{call.path}"
            return Reply(404, json={"message": message, "status-code": 404})
        params = _search_params(call)
        found = self._run_jql(str(params.get("jql") or ""), unbounded_ok=False)
        if isinstance(found, Reply):
            return found
        token = params.get("nextPageToken")
        try:
            start = int(base64.urlsafe_b64decode(str(token)).decode()) if token else 0
        except ValueError:
            return Reply(400, json=errors(["The provided next page token is invalid or expired."]))
        size = min(int(params.get("maxResults") or 50), self.max_page)
        fields = _field_list(params.get("fields"), "id")
        page = found[start : start + size]
        version = call.params["v"]
        if fields == ["id"]:
            issues = [{"id": issue.id} for issue in page]
        else:
            issues = [self._issue_json(i, version, wanted_fields(fields)) for i in page]
        body: dict[str, Any] = {"issues": issues, "isLast": start + size >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return Reply(json=body)

    def _run_jql(self, jql: str, *, unbounded_ok: bool) -> list[Issue] | Reply:
        try:
            query = parse(jql)
        except JqlError as exc:
            return Reply(400, json={**errors([str(exc)]), "warningMessages": []})
        if not query.clauses and not unbounded_ok:
            message = (
                "Unbounded JQL queries are not allowed here. "
                "Please add a search restriction to your query."
            )
            return Reply(400, json=errors([message]))
        for clause in query.clauses:
            for value in clause.values:
                problem = self._unknown_value(clause.field, value)
                if problem:
                    return Reply(400, json={**errors([problem]), "warningMessages": []})
        found = [i for i in self.issues.values() if query.matches(i.values())]
        return sorted(found, key=sort_key(query.order_by), reverse=query.descending)

    def _unknown_value(self, field_name: str, value: str) -> str | None:
        if field_name == "project" and value.upper() not in self.projects:
            return f"The value '{value}' does not exist for the field 'project'."
        if field_name == "key" and value.upper() not in self.issues:
            return f"An issue with key '{value}' does not exist for field 'key'."
        return None

    # --- JSON shapes ----------------------------------------------------------------

    def _project(self, ref: Any) -> Project | None:
        if not isinstance(ref, dict):
            return None
        for project in self.projects.values():
            if ref.get("key") == project.key or str(ref.get("id")) == project.id:
                return project
        return None

    def _issue_json(
        self, issue: Issue, version: str, wanted: Callable[[str], bool]
    ) -> dict[str, Any]:
        project = self.projects[issue.project]
        return issue_json(self.url, version, issue, project, self.links, wanted)

    def _find(self, key_or_id: str) -> Issue | None:
        found = self.issues.get(key_or_id.upper())
        return found or next((i for i in self.issues.values() if i.id == key_or_id), None)


def _json(call: RecordedCall) -> Any:
    try:
        return call.json()
    except ValueError:
        return None


def _search_params(call: RecordedCall) -> dict[str, Any]:
    if call.method == "POST":
        body = _json(call)
        return body if isinstance(body, dict) else {}
    return {name: values[0] for name, values in call.query.items()}


def _field_list(value: Any, default: str) -> list[str]:
    if not value:
        return [default]
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]
