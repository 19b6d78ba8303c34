"""`loom catalog ...` against a live server serving a small catalog, and `loom catalog
validate` / `loom catalog schema --offline`, which need no server at all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from loom.catalog.documents import json_schemas
from loom.cli.output import console
from loom.settings import Settings
from tests.catalog.conftest import BUNDLE, CODEOWNERS, NAMESPACE, POSTGRES, write_catalog
from tests.cli.conftest import LoggedIn, closed_port, run
from tests.conftest import make_settings

pytestmark = pytest.mark.sqlite_only

BUCKET = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: bucket
  name: S3 bucket
  description: Object storage.
  category: storage
  tags: [s3]
  links:
    - title: Runbook
      url: https://wiki.example/bucket
  custom:
    tier: gold
spec:
  form:
    fields:
      - id: name
        type: string
        required: true
        minLength: 3
        maxLength: 40
      - id: retention
        type: group
        fields:
          - id: days
            type: integer
            min: 1
            max: 365
            default: 30
          - id: mode
            type: enum
            options:
              - value: gov
                label: Governance
              - compliance
      - id: public
        type: boolean
        default: false
      - id: reason
        type: text
        visibleIf: {field: public, equals: true}
        requiredIf: {field: public, equals: true}
  fulfillment:
    actions:
      - id: create
        type: rest-api
        config:
          url: "https://s3.internal.example/buckets/{{.current.name}}"
"""

GOOD: dict[str, str | None] = {
    "catalog/databases/postgres.yaml": POSTGRES,
    "catalog/kubernetes/namespace.yaml": NAMESPACE,
    "catalog/storage/bucket.yaml": BUCKET,
    "bundles/web-service.yaml": BUNDLE,
    "CODEOWNERS": CODEOWNERS,
}


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "catalog-repo", GOOD)


@pytest.fixture
def settings(database_url: str, catalog_dir: Path, tmp_path: Path) -> Settings:
    """The live server serves `catalog_dir` (overrides tests.conftest's `settings`)."""
    catalog = {"source": str(catalog_dir), "cache_dir": str(tmp_path / "cache")}
    return make_settings(database_url, catalog=catalog)


@pytest.fixture
def synced(logged_in: LoggedIn) -> LoggedIn:
    run("catalog", "refresh")
    return logged_in


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No server and no credentials; any attempt to open a socket fails the test."""
    monkeypatch.setenv("LOOM_URL", f"http://127.0.0.1:{closed_port()}")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- against the server ---------------------------------------------------------------


def test_refresh_prints_the_sync_result(logged_in: LoggedIn) -> None:
    out = run("catalog", "refresh").stdout
    assert "catalog sync ok: no commit, 3 items, 1 bundle, 4 changed, 0 problems" in out

    data = json.loads(run("catalog", "refresh", "-o", "json").stdout)
    assert data["status"] == "ok"
    assert (data["items"], data["bundles"], data["changed"]) == (3, 1, 0)
    assert data["problems"] == [] and data["trigger"] == "refresh"


def test_refresh_reports_problems_of_a_partial_sync(synced: LoggedIn, catalog_dir: Path) -> None:
    broken = POSTGRES.replace('pattern: "[a-z][a-z0-9_]{2,30}"', 'pattern: "[a-z"')
    write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": broken})
    result = run("catalog", "refresh")
    assert "catalog sync partial:" in result.stdout
    assert "catalog/databases/postgres.yaml:16 spec.form.fields[0].pattern: not a valid" in (
        result.stdout
    )
    assert "last good versions stay served" in result.stderr
    # the last good version is still served, marked stale
    listed = json.loads(run("catalog", "list", "-o", "json").stdout)
    assert {e["id"]: e["stale"] for e in listed["items"]}["postgres"] is True
    assert "STALE" in run("catalog", "list", "--search", "postgres").stdout
    assert "last good version" in run("catalog", "show", "postgres").stderr


def test_refresh_exits_1_when_the_sync_fails(synced: LoggedIn, catalog_dir: Path) -> None:
    catalog_dir.rename(catalog_dir.with_name("moved-away"))
    result = run("catalog", "refresh", code=1)
    assert "catalog sync failed" in result.stdout
    assert "error: " in result.stdout
    data = json.loads(run("catalog", "refresh", "-o", "json", code=1).stdout)
    assert data["status"] == "failed" and data["error"]
    status = run("catalog", "status").stdout
    assert "last sync failed" in status and "last successful sync: " in status


def test_status_shows_the_last_syncs(synced: LoggedIn, catalog_dir: Path) -> None:
    out = run("catalog", "status").stdout
    assert f"source: {catalog_dir}" in out
    assert "last sync ok" in out and "recent syncs" in out
    data = json.loads(run("catalog", "status", "-o", "json").stdout)
    assert data["source"] == str(catalog_dir)
    assert data["last"]["status"] == "ok" and data["last"]["items"] == 3
    assert data["last_successful"]["id"] == data["last"]["id"]


def test_list_filters_and_json_output(synced: LoggedIn) -> None:
    def ids(*args: str) -> list[str]:
        data = json.loads(run("catalog", "list", *args, "-o", "json").stdout)
        return [e["id"] for e in data["items"]]

    assert ids() == ["namespace", "web-service", "postgres", "bucket"]  # by name
    assert ids("--kind", "bundle") == ["web-service"]
    assert ids("--kind", "item", "--category", "databases") == ["postgres"]
    assert ids("--owner", "payments") == ["namespace"]
    assert ids("--owner", "data") == ["postgres"]
    assert ids("--tag", "s3") == ["bucket"]
    assert ids("--search", "managed postgresql") == ["postgres"]
    assert ids("--search", "nothing-like-this") == []

    data = json.loads(run("catalog", "list", "--category", "databases", "-o", "json").stdout)
    entry = data["items"][0]
    assert entry["kind"] == "CatalogItem" and entry["version"] == "1.0.0"
    assert entry["owner"] == "data" and entry["stale"] is False
    assert data["next_cursor"] is None

    table = run("catalog", "list", "--kind", "item").stdout
    for column in ("id", "kind", "name", "category", "version", "owner", "stale"):
        assert column in table
    assert "postgres" in table and "web-service" not in table


def test_list_pages(synced: LoggedIn) -> None:
    first = json.loads(run("catalog", "list", "--limit", "3", "-o", "json").stdout)
    assert len(first["items"]) == 3 and first["next_cursor"]
    assert f"--cursor {first['next_cursor']}" in run("catalog", "list", "--limit", "3").stdout
    rest = json.loads(
        run(
            "catalog", "list", "--limit", "3", "--cursor", first["next_cursor"], "-o", "json"
        ).stdout
    )
    assert [e["id"] for e in rest["items"]] == ["bucket"]
    walked = json.loads(run("catalog", "list", "--limit", "1", "--all", "-o", "json").stdout)
    assert len(walked["items"]) == 4 and walked["next_cursor"] is None


def test_show(synced: LoggedIn) -> None:
    result = run("catalog", "show", "bucket")
    out = result.stdout
    for text in ("S3 bucket", "storage", "1.0.0", "platform", "Runbook", "custom.tier", "gold"):
        assert text in out
    assert result.stderr == ""

    data = json.loads(run("catalog", "show", "bucket", "-o", "json").stdout)
    assert data["owner"] == "platform"
    assert data["links"] == [{"title": "Runbook", "url": "https://wiki.example/bucket"}]
    assert data["custom"] == {"tier": "gold"}
    assert data["source_file"] == "catalog/storage/bucket.yaml"
    assert data["definition"]["kind"] == "CatalogItem"
    assert data["definition"]["spec"]["form"]["fields"][0]["minLength"] == 3


def test_show_an_unknown_entry_is_an_error(synced: LoggedIn) -> None:
    result = run("catalog", "show", "nope", code=1)
    assert result.stderr.startswith("error: no catalog item or bundle 'nope' (NOT_FOUND")
    assert result.stdout == ""


def test_form(synced: LoggedIn, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(run("catalog", "form", "bucket", "-o", "json").stdout)
    assert [f["path"] for f in data["fields"]] == ["name", "retention", "public", "reason"]
    assert [f["path"] for f in data["fields"][1]["fields"]] == ["retention.days", "retention.mode"]
    assert data["json_schema"]["required"] == ["name"]
    assert data["json_schema"]["properties"]["retention"]["properties"]["days"]["maximum"] == 365

    monkeypatch.setattr(console, "_width", 160)  # a wide terminal: no cell is folded
    out = run("catalog", "form", "bucket").stdout
    header = next(line for line in out.splitlines() if "path" in line).split()
    assert [w for w in header if w.isalpha()] == [
        "path", "type", "required", "default", "constraints", "options", "conditions",
    ]  # fmt: skip
    for text in (
        "retention.days", "retention.mode", "minLength 3", "max 365", "gov (Governance)",
        "visible if public = true", "required if public = true",
    ):  # fmt: skip
        assert text in out
    # columns no field uses are left out
    line = next(
        line for line in run("catalog", "form", "namespace").stdout.splitlines() if "path" in line
    )
    assert "path" in line and "required" in line and "options" not in line


def test_versions(synced: LoggedIn, catalog_dir: Path) -> None:
    write_catalog(
        catalog_dir,
        {"catalog/databases/postgres.yaml": POSTGRES.replace("1.0.0", "1.1.0")},
    )
    run("catalog", "refresh")
    data = json.loads(run("catalog", "versions", "postgres", "-o", "json").stdout)
    assert [v["version"] for v in data] == ["1.1.0", "1.0.0"]
    assert all(v["source_file"] == "catalog/databases/postgres.yaml" for v in data)
    out = run("catalog", "versions", "postgres").stdout
    assert "1.1.0" in out and "1.0.0" in out


def test_check_input_valid(synced: LoggedIn) -> None:
    result = run(
        "catalog", "check-input", "postgres", "--set", "name=orders", "--set", "size=large"
    )
    assert "input is valid for postgres" in result.stdout
    data = json.loads(
        run("catalog", "check-input", "postgres", "--set", "name=orders", "-o", "json").stdout
    )
    assert data == {"ok": True, "values": {"name": "orders", "size": "small"}, "errors": []}


def test_check_input_invalid_exits_1(synced: LoggedIn) -> None:
    result = run(
        "catalog", "check-input", "postgres", "--set", "name=X", "--set", "size=huge", code=1
    )
    assert "input is INVALID for postgres: 2 errors" in result.stdout
    data = json.loads(
        run("catalog", "check-input", "postgres", "-s", "size=huge", "-o", "json", code=1).stdout
    )
    assert data["ok"] is False
    assert {e["field"] for e in data["errors"]} == {"name", "size"}


def test_check_input_nested_values_and_file(synced: LoggedIn, tmp_path: Path) -> None:
    data = json.loads(
        run(
            "catalog", "check-input", "bucket", "--set", "name=logs",
            "--set", "retention.days=400", "--set", "public=yes", "-o", "json", code=1,
        ).stdout
    )  # fmt: skip
    assert data["errors"] == [
        {"field": "retention.days", "issue": "must be at most 365"},
        {"field": "reason", "issue": "is required"},
    ]

    values = tmp_path / "input.yaml"
    values.write_text("name: logs\nretention:\n  days: 7\n  mode: gov\n")
    data = json.loads(
        run("catalog", "check-input", "bucket", "--file", str(values), "-o", "json").stdout
    )
    assert data["ok"] is True
    assert data["values"]["retention"] == {"days": 7, "mode": "gov"}
    # --set wins over the file
    result = run(
        "catalog", "check-input", "bucket", "-f", str(values), "-s", "retention.days=0", code=1
    )
    assert "retention.days" in result.stdout


def test_check_input_refuses_a_malformed_set_before_any_request() -> None:
    result = run("catalog", "check-input", "postgres", "--set", "name", code=1)
    assert "expected FIELD=VALUE" in result.stderr
    result = run("catalog", "check-input", "x", "-s", "a=1", "-s", "a.b=2", code=1)
    assert "a is not a group" in result.stderr


def test_commands_need_a_login(offline: None) -> None:
    result = run("catalog", "list", code=1)
    assert "not logged in" in result.stderr


# --- offline --------------------------------------------------------------------------


def test_validate_a_good_checkout(offline: None, catalog_dir: Path) -> None:
    result = run("catalog", "validate", str(catalog_dir))
    assert result.stdout.strip() == "catalog ok: 3 items, 1 bundle, 0 problems"
    data = json.loads(run("catalog", "validate", str(catalog_dir), "-o", "json").stdout)
    assert data == {
        "ok": True,
        "items": ["bucket", "namespace", "postgres"],
        "bundles": ["web-service"],
        "problems": [],
    }


def test_validate_a_bad_checkout_prints_every_problem(offline: None, tmp_path: Path) -> None:
    root = write_catalog(
        tmp_path / "bad",
        {
            "catalog/databases/postgres.yaml": POSTGRES.replace(
                'pattern: "[a-z][a-z0-9_]{2,30}"', 'pattern: "[a-z"'
            ),
            "catalog/kubernetes/namespace.yaml": NAMESPACE.replace("required:", "requird:"),
            "catalog/storage/bucket.yaml": BUCKET,
        },
    )
    result = run("catalog", "validate", str(root), code=1)
    assert result.stdout.splitlines() == [
        "catalog/databases/postgres.yaml:16 spec.form.fields[0].pattern: not a valid regular "
        "expression (unterminated character set at position 4)",
        "catalog/kubernetes/namespace.yaml:13 spec.form.fields[0].requird: unknown field",
        "catalog INVALID: 1 item, 0 bundles, 2 problems",
    ]
    data = json.loads(run("catalog", "validate", str(root), "-o", "json", code=1).stdout)
    assert data["ok"] is False and data["items"] == ["bucket"] and data["bundles"] == []
    assert data["problems"][1] == {
        "file": "catalog/kubernetes/namespace.yaml",
        "line": 13,
        "path": "spec.form.fields[0].requird",
        "message": "unknown field",
        "document_id": "namespace",
        "text": "catalog/kubernetes/namespace.yaml:13 spec.form.fields[0].requird: unknown field",
    }


def test_validate_a_single_file(offline: None, tmp_path: Path) -> None:
    good = tmp_path / "postgres.yaml"
    good.write_text(POSTGRES)
    assert run("catalog", "validate", str(good)).stdout.strip() == (
        "catalog ok: 1 item, 0 bundles, 0 problems"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(NAMESPACE.replace("required:", "requird:"))
    assert run("catalog", "validate", str(bad), code=1).stdout.splitlines() == [
        "catalog/bad.yml:13 spec.form.fields[0].requird: unknown field",
        "catalog INVALID: 0 items, 0 bundles, 1 problem",
    ]
    # a bundle alone: its items are unknown in an otherwise empty catalog
    bundle = tmp_path / "web-service.yaml"
    bundle.write_text(BUNDLE)
    assert run("catalog", "validate", str(bundle), code=1).stdout.splitlines() == [
        "catalog/web-service.yaml:15 spec.components[0].item: unknown catalog item 'namespace'",
        "catalog/web-service.yaml:17 spec.components[1].item: unknown catalog item 'postgres'",
        "catalog INVALID: 0 items, 0 bundles, 2 problems",
    ]


def test_validate_reports_a_file_that_is_not_utf8(offline: None, tmp_path: Path) -> None:
    single = tmp_path / "latin1.yaml"
    single.write_bytes(b"name: caf\xe9\n")
    assert run("catalog", "validate", str(single), code=1).stdout.splitlines() == [
        "catalog/latin1.yaml:1 not UTF-8 text",
        "catalog INVALID: 0 items, 0 bundles, 1 problem",
    ]


def test_validate_refuses_a_path_without_documents(offline: None, tmp_path: Path) -> None:
    result = run("catalog", "validate", str(tmp_path / "missing"), code=1)
    assert result.stderr.startswith("error: no such file or directory")
    (tmp_path / "empty").mkdir()
    result = run("catalog", "validate", str(tmp_path / "empty"), code=1)
    assert "no *.yaml or *.yml documents under" in result.stderr


def test_schema_offline(offline: None) -> None:
    both = json.loads(run("catalog", "schema", "--offline").stdout)
    assert both == json_schemas()
    item = json.loads(run("catalog", "schema", "--kind", "CatalogItem", "--offline").stdout)
    assert item == json_schemas()["CatalogItem"]
    # without a token the installation's schema is the answer: no server is asked
    assert (
        json.loads(run("catalog", "schema", "--kind", "CatalogBundle").stdout)
        == (json_schemas()["CatalogBundle"])
    )


def test_schema_from_the_server_when_logged_in(logged_in: LoggedIn) -> None:
    assert json.loads(run("catalog", "schema").stdout) == json_schemas()


_ISOLATED = """
import json, socket, sys

def refuse(*args, **kwargs):
    raise AssertionError("network used")

socket.socket.connect = refuse
socket.create_connection = refuse
from loom.cli.main import app

code = None
try:
    app(["catalog", "validate", sys.argv[1], "-o", "json"])
except SystemExit as exc:
    code = exc.code
heavy = ["loom.db.engine", "loom.platform.runtime", "loom.app", "fastapi", "uvicorn"]
print(json.dumps({"code": code, "imported": [m for m in heavy if m in sys.modules]}))
"""


def test_validate_runs_with_the_package_alone(tmp_path: Path, catalog_dir: Path) -> None:
    """As in a platform team's CI: a fresh process, no settings, no credentials, no
    server; it never opens a socket nor loads the database or app layers."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LOOM_URL": f"http://127.0.0.1:{closed_port()}",
        "LOOM_CLI_CONFIG_DIR": str(tmp_path / "nowhere"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _ISOLATED, str(catalog_dir)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *printed, last = done.stdout.strip().splitlines()
    assert json.loads(last) == {"code": 0, "imported": []}
    assert json.loads("\n".join(printed))["ok"] is True
