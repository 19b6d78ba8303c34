"""`loom catalog test-variables`: offline rendering of templates and action configs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.conftest import run


def test_renders_a_template_with_pipes_and_set_values() -> None:
    result = run(
        "catalog",
        "test-variables",
        "db-{{ .current.name | slug }}-{{ .system.platform.region | upper }}",
        "--set",
        "current.name=Orders DB",
        "--set",
        "system.platform.region=eu-west-1",
    )
    assert result.stdout.strip() == "db-orders-db-EU-WEST-1"


def test_missing_values_render_empty_with_a_warning() -> None:
    result = run("catalog", "test-variables", "key={{ .output.ticketKey }}", "-o", "json")
    data = json.loads(result.stdout)
    assert data["rendered"] == "key="
    assert len(data["warnings"]) == 1 and ".output.ticketKey" in data["warnings"][0]


def test_renders_an_action_config_from_files_escaping_json(tmp_path: Path) -> None:
    config = tmp_path / "action.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "method": "POST",
                "url": "https://api.example.com/dbs/{{ .current.db.name }}",
                "body": {"owner": "{{ .system.user.email }}", "note": "{{ .current.note }}"},
            }
        )
    )
    variables = tmp_path / "vars.yaml"
    variables.write_text(
        yaml.safe_dump(
            {
                "current": {"db": {"name": "orders"}, "note": "from file", "tags": ["web", "pci"]},
                "system": {"user": {"email": "ada@example.com"}},
            }
        )
    )
    result = run(
        "catalog",
        "test-variables",
        "--config",
        str(config),
        "--vars",
        str(variables),
        "--set",
        'current.note=say "hi"',
        "-o",
        "json",
    )
    rendered = json.loads(result.stdout)["rendered"]
    assert rendered["url"] == "https://api.example.com/dbs/orders"
    assert rendered["body"] == {"owner": "ada@example.com", "note": 'say "hi"'}

    body = run(
        "catalog",
        "test-variables",
        '{"note": "<{{ .current.note }}>", "tags": {{ .current.tags }}}',
        "--json-body",
        "--vars",
        str(variables),
        "-s",
        'current.note=a"b',
        "-o",
        "json",
    )
    assert json.loads(json.loads(body.stdout)["rendered"]) == {
        "note": '<a"b>',
        "tags": ["web", "pci"],
    }


def test_sandbox_escapes_are_refused_with_exit_1() -> None:
    result = run("catalog", "test-variables", "{{ .current.__class__ }}", code=1)
    assert "template:" in result.stderr and "not allowed" in result.stderr


def test_bad_arguments_are_named() -> None:
    neither = run("catalog", "test-variables", code=1)
    assert "give exactly one of template or config" in neither.stderr
    bad_set = run("catalog", "test-variables", "x", "--set", "name", code=1)
    assert "NAMESPACE.PATH=VALUE" in bad_set.stderr
    unknown = run("catalog", "test-variables", "x", "--set", "secrets.token=1", code=1)
    assert "variables:" in unknown.stderr and "secrets" in unknown.stderr
