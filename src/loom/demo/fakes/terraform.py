"""A stateful fake of the Terraform Cloud / Enterprise API v2 on a real local HTTP
server (`FakeServer`), speaking JSON:API (`application/vnd.api+json`) the way
app.terraform.io does:

* `GET /api/v2/organizations/{org}/workspaces/{name}`: a workspace (`ws-...`);
* `GET|POST /api/v2/workspaces/{id}/vars`, `PATCH .../vars/{var-id}`: workspace
  variables (sensitive values always answered as null);
* `POST /api/v2/runs` (201, status `pending`), `GET /api/v2/runs/{id}`,
  `GET /api/v2/workspaces/{id}/runs` (newest first, `search[basic]`, `filter[status]`,
  `page[number]`/`page[size]` with `meta.pagination`), `POST
  /api/v2/runs/{id}/actions/apply` (202; 409 unless the run awaits confirmation);
* `GET /api/v2/workspaces/{id}/current-state-version-outputs` (paged; sensitive values
  null; 503 with Retry-After while the state is processed) and
  `GET /api/v2/state-version-outputs/{id}` (the value, sensitive or not).

A missing or wrong bearer token gets 401, an unknown object 404, a write without the
JSON:API content type 415, all with an `{"errors": [...]}` body. Runs move only when a
test says so (`advance`), along pending → planning → planned → applying → applied
(plan-only: → planned_and_finished; without auto-apply a run stops at planned until
applied). `fail` and `slow` inject errors and delays before a route answers (a slow
answer still changes the state first: the request took effect, its answer is late).
`run_variables` decodes a run's HCL variable values, refusing what Terraform would.

Demo fake, not for production: a stand-in for the tests and for the demo that `make serve`
starts (see loom.demo). It keeps everything in memory and checks credentials only as far
as the wire format needs.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loom.demo.fakes.hcl import decode_hcl
from loom.demo.fakes.server import FakeServer, RecordedCall, Reply

TOKEN = "tfc-fake-token-9c1e"  # noqa: S105 - the fake's own credential, not a secret
JSONAPI = "application/vnd.api+json"
_FINISHED = {"applied", "planned_and_finished", "errored", "discarded", "canceled"}
_CONFIRMABLE = {"planned", "cost_estimated", "policy_checked", "post_plan_completed"}


def _id(prefix: str) -> str:
    return (
        prefix
        + "-"
        + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeOutput:
    id: str
    name: str
    value: Any
    sensitive: bool = False


@dataclass
class FakeWorkspace:
    id: str
    name: str
    organization: str
    auto_apply: bool = False
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: list[FakeOutput] | None = None  # None: no state yet
    outputs_processing: bool = False


@dataclass
class FakeRun:
    id: str
    workspace_id: str
    message: str
    is_destroy: bool
    auto_apply: bool
    plan_only: bool
    variables: list[dict[str, str]]
    status: str = "pending"
    has_changes: bool = True
    created_at: str = field(default_factory=_now)
    timestamps: dict[str, str] = field(default_factory=dict)
    plan_id: str = field(default_factory=lambda: _id("plan"))
    apply_id: str = field(default_factory=lambda: _id("apply"))


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    times: int
    status: int = 0
    delay: float = 0.0


class FakeTerraform:
    """See the module docstring: `with FakeTerraform() as tfc: tfc.add_workspace("db")`."""

    def __init__(
        self, *, token: str = TOKEN, organization: str = "acme", workspaces_on_demand: bool = False
    ) -> None:
        self.server = FakeServer()
        self.token = token
        self.organization = organization
        #: The demo's convenience, not Terraform's behaviour: a workspace of the fake's
        #: organization that is looked up by name exists from then on.
        self.workspaces_on_demand = workspaces_on_demand
        self.workspaces: dict[str, FakeWorkspace] = {}
        self.runs: dict[str, FakeRun] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        ws = r"(?P<ws>ws-[A-Za-z0-9]+)"
        for method, path, handler in [
            (
                "GET",
                r"/api/v2/organizations/(?P<org>[^/]+)/workspaces/(?P<name>[^/]+)",
                self._workspace,
            ),
            ("GET", rf"/api/v2/workspaces/{ws}/vars", self._list_vars),
            ("POST", rf"/api/v2/workspaces/{ws}/vars", self._create_var),
            ("PATCH", rf"/api/v2/workspaces/{ws}/vars/(?P<var>var-[A-Za-z0-9]+)", self._update_var),
            ("POST", r"/api/v2/runs", self._create_run),
            ("GET", r"/api/v2/runs/(?P<run>run-[A-Za-z0-9]+)", self._show_run),
            ("GET", rf"/api/v2/workspaces/{ws}/runs", self._list_runs),
            ("POST", r"/api/v2/runs/(?P<run>run-[A-Za-z0-9]+)/actions/apply", self._apply),
            ("GET", rf"/api/v2/workspaces/{ws}/current-state-version-outputs", self._outputs),
            ("GET", r"/api/v2/state-version-outputs/(?P<out>wsout-[A-Za-z0-9]+)", self._output),
        ]:
            self.server.route(method, path, self._guarded(method, handler))

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> FakeTerraform:
        self.server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def calls(self) -> list[RecordedCall]:
        return self.server.calls

    # --- test controls --------------------------------------------------------------

    def add_workspace(
        self, name: str, *, organization: str | None = None, auto_apply: bool = False
    ) -> FakeWorkspace:
        workspace = FakeWorkspace(_id("ws"), name, organization or self.organization, auto_apply)
        with self._lock:
            self.workspaces[workspace.id] = workspace
        return workspace

    def workspace(self, name: str) -> FakeWorkspace:
        return next(ws for ws in self.workspaces.values() if ws.name == name)

    def set_outputs(
        self, workspace: str, values: Mapping[str, Any], *, sensitive: Iterable[str] = ()
    ) -> None:
        """Make `values` the workspace's current state outputs."""
        hidden = set(sensitive)
        with self._lock:
            self.workspace(workspace).outputs = [
                FakeOutput(_id("wsout"), name, value, name in hidden)
                for name, value in values.items()
            ]

    def unfinished_runs(self) -> list[FakeRun]:
        """Runs that have not ended (those awaiting confirmation included)."""
        with self._lock:
            return [run for run in self.runs.values() if run.status not in _FINISHED]

    def runs_of(self, workspace: str) -> list[FakeRun]:
        ws_id = self.workspace(workspace).id
        return [run for run in self.runs.values() if run.workspace_id == ws_id]

    def advance(self, run_id: str, status: str | None = None) -> str:
        """Move a run to `status`, or one step along its happy path; the new status."""
        with self._lock:
            run = self.runs[run_id]
            run.status = status or _next_status(run)
            run.timestamps[run.status.replace("_", "-") + "-at"] = _now()
            return run.status

    def finish(self, run_id: str) -> str:
        """Advance until the run ends or stops for confirmation."""
        while self.runs[run_id].status not in _FINISHED and not (
            self.runs[run_id].status == "planned" and not self.runs[run_id].auto_apply
        ):
            self.advance(run_id)
        return self.runs[run_id].status

    def fail(self, method: str, path: str, status: int = 500, *, times: int = 1) -> None:
        """The next `times` calls matching `method` and the `path` pattern answer `status`."""
        self._faults.append(_Fault(method, re.compile(path), times, status=status))

    def slow(self, method: str, path: str, delay: float, *, times: int = 1) -> None:
        """The next `times` matching calls take effect, then answer after `delay` s."""
        self._faults.append(_Fault(method, re.compile(path), times, delay=delay))

    def run_variables(self, run_id: str) -> dict[str, Any]:
        """A run's variables decoded as Terraform would (ValueError if one is not HCL)."""
        return {var["key"]: decode_hcl(var["value"]) for var in self.runs[run_id].variables}

    # --- plumbing -------------------------------------------------------------------

    def _guarded(
        self, method: str, handler: Callable[[RecordedCall], Reply]
    ) -> Callable[[RecordedCall], Reply]:
        def answer(call: RecordedCall) -> Reply:
            delay = 0.0
            with self._lock:
                for fault in list(self._faults):
                    if fault.method == method and fault.path.fullmatch(call.path):
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                        if fault.status:
                            return _error(
                                fault.status,
                                "internal server error" if fault.status >= 500 else "error",
                            )
                        delay = fault.delay
                        break
                if call.headers.get("authorization") != f"Bearer {self.token}":
                    return _error(401, "unauthorized")
                if method in ("POST", "PATCH") and JSONAPI not in call.headers.get(
                    "content-type", ""
                ):
                    return _error(415, "unsupported media type", f"expected {JSONAPI}")
                try:
                    reply = handler(call)
                except _NotFound:
                    reply = _error(404, "not found")
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    reply = _error(422, "invalid attribute", str(exc))
            reply.delay = delay
            return reply

        return answer

    def _ws(self, call: RecordedCall) -> FakeWorkspace:
        workspace = self.workspaces.get(call.params["ws"])
        if workspace is None:
            raise _NotFound
        return workspace

    # --- workspaces and variables ---------------------------------------------------

    def _workspace(self, call: RecordedCall) -> Reply:
        org, name = call.params["org"], call.params["name"]
        for workspace in self.workspaces.values():
            if workspace.organization == org and workspace.name == name:
                return _ok(self._workspace_json(workspace))
        if self.workspaces_on_demand and org == self.organization:
            return _ok(self._workspace_json(self.add_workspace(name)))
        raise _NotFound

    def _workspace_json(self, ws: FakeWorkspace) -> dict[str, Any]:
        outputs = [{"id": o.id, "type": "workspace-outputs"} for o in ws.outputs or []]
        return {
            "id": ws.id,
            "type": "workspaces",
            "attributes": {
                "name": ws.name,
                "auto-apply": ws.auto_apply,
                "execution-mode": "remote",
                "locked": False,
                "terraform-version": "1.9.5",
                "working-directory": "",
                "resource-count": 0,
                "actions": {"is-destroyable": True},
                "permissions": {"can-queue-run": True, "can-read-state-versions": True},
            },
            "relationships": {
                "organization": {"data": {"id": ws.organization, "type": "organizations"}},
                "outputs": {
                    "data": outputs,
                    "links": {
                        "related": f"/api/v2/workspaces/{ws.id}/current-state-version-outputs"
                    },
                },
            },
            "links": {
                "self": f"/api/v2/organizations/{ws.organization}/workspaces/{ws.name}",
                "self-html": f"/app/{ws.organization}/workspaces/{ws.name}",
            },
        }

    def _list_vars(self, call: RecordedCall) -> Reply:
        ws = self._ws(call)
        return _ok([self._var_json(ws, var_id) for var_id in ws.variables])

    def _create_var(self, call: RecordedCall) -> Reply:
        ws = self._ws(call)
        attributes = _document(call, "vars")["attributes"]
        key, category = attributes.get("key"), attributes.get("category")
        if not key:
            raise ValueError("Key can't be blank")
        if category not in ("terraform", "env"):
            raise ValueError("Category is not included in the list")
        if any(v["key"] == key and v["category"] == category for v in ws.variables.values()):
            raise ValueError("Key has already been taken")
        var_id = _id("var")
        ws.variables[var_id] = {
            "key": key,
            "value": str(attributes.get("value") or ""),
            "description": attributes.get("description"),
            "category": category,
            "hcl": bool(attributes.get("hcl", False)),
            "sensitive": bool(attributes.get("sensitive", False)),
            "created-at": _now(),
            "version-id": secrets.token_hex(20),
        }
        return _ok(self._var_json(ws, var_id), 201)

    def _update_var(self, call: RecordedCall) -> Reply:
        ws = self._ws(call)
        var = ws.variables.get(call.params["var"])
        if var is None:
            raise _NotFound
        document = _document(call, "vars")
        changes = document.get("attributes", {})
        if var["sensitive"] and changes.get("sensitive") is False:
            raise ValueError("Sensitive cannot be changed from true to false")
        for name in ("key", "value", "description", "category", "hcl", "sensitive"):
            if name in changes:
                var[name] = changes[name]
        var["version-id"] = secrets.token_hex(20)
        return _ok(self._var_json(ws, call.params["var"]))

    def _var_json(self, ws: FakeWorkspace, var_id: str) -> dict[str, Any]:
        attributes = dict(ws.variables[var_id])
        if attributes["sensitive"]:
            attributes["value"] = None
        return {
            "id": var_id,
            "type": "vars",
            "attributes": attributes,
            "relationships": {
                "configurable": {
                    "data": {"id": ws.id, "type": "workspaces"},
                    "links": {
                        "related": f"/api/v2/organizations/{ws.organization}/workspaces/{ws.name}"
                    },
                }
            },
            "links": {"self": f"/api/v2/workspaces/{ws.id}/vars/{var_id}"},
        }

    # --- runs -----------------------------------------------------------------------

    def _create_run(self, call: RecordedCall) -> Reply:
        document = _document(call, "runs")
        attributes = document.get("attributes", {})
        try:
            ws_id = document["relationships"]["workspace"]["data"]["id"]
        except (KeyError, TypeError):
            raise ValueError("Workspace is required") from None
        workspace = self.workspaces.get(ws_id)
        if workspace is None:
            raise _NotFound
        variables = attributes.get("variables") or []
        for var in variables:
            if set(var) != {"key", "value"} or not all(isinstance(v, str) for v in var.values()):
                raise ValueError("run variables need a string key and value")
        run = FakeRun(
            _id("run"),
            ws_id,
            attributes.get("message") or "Queued manually via the Terraform Enterprise API",
            bool(attributes.get("is-destroy", False)),
            bool(attributes.get("auto-apply", workspace.auto_apply)),
            bool(attributes.get("plan-only", False)),
            variables,
        )
        run.timestamps["plan-queueable-at"] = run.created_at
        self.runs[run.id] = run
        return _ok(self._run_json(run), 201)

    def _show_run(self, call: RecordedCall) -> Reply:
        run = self.runs.get(call.params["run"])
        if run is None:
            raise _NotFound
        return _ok(self._run_json(run))

    def _list_runs(self, call: RecordedCall) -> Reply:
        ws = self._ws(call)
        found = [run for run in reversed(self.runs.values()) if run.workspace_id == ws.id]
        search = _query(call, "search[basic]").lower()
        if search:
            found = [
                run for run in found if search in run.message.lower() or search == run.id.lower()
            ]
        statuses = {s for s in _query(call, "filter[status]").split(",") if s}
        if statuses:
            found = [run for run in found if run.status in statuses]
        page = max(int(_query(call, "page[number]") or 1), 1)
        size = min(max(int(_query(call, "page[size]") or 20), 1), 100)
        return _page(call.path, [self._run_json(run) for run in found], page, size)

    def _apply(self, call: RecordedCall) -> Reply:
        run = self.runs.get(call.params["run"])
        if run is None:
            raise _NotFound
        if run.plan_only or run.status not in _CONFIRMABLE:
            return _error(
                409,
                "conflict",
                "Run was not paused for confirmation or priority; apply not allowed",
            )
        self.advance(run.id, "confirmed")
        return Reply(202)

    def _run_json(self, run: FakeRun) -> dict[str, Any]:
        # An auto-apply run goes on by itself: it never awaits a confirmation.
        confirmable = run.status in _CONFIRMABLE and not (run.plan_only or run.auto_apply)
        active = run.status not in _FINISHED
        return {
            "id": run.id,
            "type": "runs",
            "attributes": {
                "actions": {
                    "is-cancelable": active and not confirmable,
                    "is-confirmable": confirmable,
                    "is-discardable": confirmable,
                    "is-force-cancelable": False,
                },
                "allow-empty-apply": False,
                "auto-apply": run.auto_apply,
                "created-at": run.created_at,
                "has-changes": run.has_changes,
                "is-destroy": run.is_destroy,
                "message": run.message,
                "plan-only": run.plan_only,
                "refresh": True,
                "refresh-only": False,
                "replace-addrs": None,
                "source": "tfe-api",
                "status": run.status,
                "status-timestamps": dict(run.timestamps),
                "target-addrs": None,
                "trigger-reason": "manual",
                "terraform-version": "1.9.5",
                "variables": run.variables,
                "permissions": {"can-apply": True, "can-cancel": True, "can-discard": True},
            },
            "relationships": {
                "workspace": {"data": {"id": run.workspace_id, "type": "workspaces"}},
                "plan": {
                    "data": {"id": run.plan_id, "type": "plans"},
                    "links": {"related": f"/api/v2/runs/{run.id}/plan"},
                },
                "apply": {
                    "data": {"id": run.apply_id, "type": "applies"},
                    "links": {"related": f"/api/v2/runs/{run.id}/apply"},
                },
            },
            "links": {"self": f"/api/v2/runs/{run.id}"},
        }

    # --- state outputs --------------------------------------------------------------

    def _outputs(self, call: RecordedCall) -> Reply:
        ws = self._ws(call)
        if ws.outputs_processing:
            return _error(
                503,
                "service unavailable",
                "state version outputs are being processed",
                {"Retry-After": "2"},
            )
        if ws.outputs is None:
            raise _NotFound
        page = max(int(_query(call, "page[number]") or 1), 1)
        size = min(max(int(_query(call, "page[size]") or 20), 1), 100)
        data = [_output_json(output, reveal=False) for output in ws.outputs]
        return _page(call.path, data, page, size)

    def _output(self, call: RecordedCall) -> Reply:
        for ws in self.workspaces.values():
            for output in ws.outputs or []:
                if output.id == call.params["out"]:
                    return _ok(_output_json(output, reveal=True))
        raise _NotFound


class _NotFound(Exception):
    pass


def _next_status(run: FakeRun) -> str:
    if run.status == "pending":
        return "planning"
    if run.status == "planning":
        return "planned_and_finished" if run.plan_only or not run.has_changes else "planned"
    if (run.status == "planned" and run.auto_apply) or run.status == "confirmed":
        return "applying"
    if run.status == "applying":
        return "applied"
    raise ValueError(f"run {run.id} cannot advance from {run.status}")


def _output_json(output: FakeOutput, *, reveal: bool) -> dict[str, Any]:
    kind = {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "hash",
    }
    return {
        "id": output.id,
        "type": "state-version-outputs",
        "attributes": {
            "name": output.name,
            "sensitive": output.sensitive,
            "type": kind.get(type(output.value), "string"),
            "value": output.value if reveal or not output.sensitive else None,
            "detailed-type": kind.get(type(output.value), "string"),
        },
        "links": {"self": f"/api/v2/state-version-outputs/{output.id}"},
    }


def _document(call: RecordedCall, kind: str) -> dict[str, Any]:
    data = call.json().get("data")
    if not isinstance(data, dict) or data.get("type") != kind:
        raise ValueError(f"data.type must be {kind!r}")
    return data


def _query(call: RecordedCall, name: str) -> str:
    return call.query.get(name, [""])[0]


def _page(path: str, data: list[dict[str, Any]], page: int, size: int) -> Reply:
    pages = max((len(data) + size - 1) // size, 1)
    link = f"{path}?page%5Bnumber%5D={{}}&page%5Bsize%5D={size}"
    return _ok(
        data[(page - 1) * size : page * size],
        links={
            "self": link.format(page),
            "first": link.format(1),
            "prev": link.format(page - 1) if page > 1 else None,
            "next": link.format(page + 1) if page < pages else None,
            "last": link.format(pages),
        },
        meta={
            "pagination": {
                "current-page": page,
                "page-size": size,
                "prev-page": page - 1 if page > 1 else None,
                "next-page": page + 1 if page < pages else None,
                "total-pages": pages,
                "total-count": len(data),
            }
        },
    )


def _ok(data: Any, status: int = 200, **extra: Any) -> Reply:
    return Reply(status, json={"data": data, **extra}, headers={"Content-Type": JSONAPI})


def _error(
    status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    error = {"status": str(status), "title": title, **({"detail": detail} if detail else {})}
    return Reply(
        status, json={"errors": [error]}, headers={"Content-Type": JSONAPI, **(headers or {})}
    )
