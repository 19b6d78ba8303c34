"""Bundle component inputs: rendered from the bundle form at submission and checked
against the component item's form; inputs that read later values rendered at run time."""

from __future__ import annotations

from typing import Any

import pytest

from loom.catalog.documents import BundleComponent, CatalogBundle, CatalogItem
from loom.errors import RejectedInput
from loom.provisioning.component_inputs import at_run_time, at_submission, pinned_component
from loom.provisioning.plan import build_tasks, pin
from loom.provisioning.templating import Variables

DB = CatalogItem.model_validate(
    {
        "apiVersion": "loom/v1",
        "kind": "CatalogItem",
        "metadata": {"id": "db", "name": "DB", "category": "databases"},
        "spec": {
            "form": {
                "fields": [
                    {"id": "db_name", "type": "string", "required": True, "pattern": "[a-z_]+"},
                    {"id": "replicas", "type": "integer", "min": 1, "max": 5, "default": 1},
                    {"id": "password", "type": "secret", "required": True},
                    {
                        "id": "backup",
                        "type": "group",
                        "fields": [{"id": "window", "type": "string", "required": True}],
                    },
                ]
            },
            "fulfillment": {
                "actions": [{"id": "make", "type": "rest-api", "config": {"url": "https://x"}}]
            },
        },
    }
)


def component(inputs: dict[str, Any], cid: str = "db") -> BundleComponent:
    return BundleComponent.model_validate({"id": cid, "item": "db", "inputs": inputs})


SHARED = {"name": "orders", "note": "{{ .system.user.email }}"}
SECRETS = {"password": "s3cret"}


def test_current_templates_render_at_submission_with_their_type() -> None:
    checked = at_submission(
        component(
            {
                "db_name": "{{ .current.name }}_db",
                "replicas": "{{ 1 + 2 }}",
                "backup.window": "02:00",
            }
        ),
        DB,
        SHARED,
        SECRETS,
    )
    assert checked.issues == []
    assert checked.values == {"db_name": "orders_db", "replicas": 3, "backup": {"window": "02:00"}}
    assert "password" not in checked.values  # secrets stay in the secret store


def test_a_rendered_or_fixed_value_that_breaks_the_item_form_is_refused_naming_the_component() -> (
    None
):
    checked = at_submission(
        component({"db_name": "{{ .current.name | upper }}", "replicas": 9}), DB, SHARED, SECRETS
    )
    fields = {issue.field for issue in checked.issues}
    assert fields == {
        "components.db.db_name",
        "components.db.replicas",
        "components.db.backup.window",
    }


def test_values_typed_by_the_requester_are_never_rendered() -> None:
    item = DB.model_copy(deep=True)
    shared = {"db_name": "{{ .system.user.email }}"}
    checked = at_submission(component({"backup": {"window": "x"}}), item, shared, SECRETS)
    assert [i.field for i in checked.issues] == ["components.db.db_name"]  # the pattern, as typed


def test_inputs_reading_outputs_wait_for_run_time_and_are_checked_then() -> None:
    later = component({"db_name": "{{ .output.prefix }}_db", "backup.window": "02:00"})
    checked = at_submission(later, DB, SHARED, SECRETS)
    assert checked.issues == []  # db_name is required, but not known yet
    assert "db_name" not in checked.values

    good, warnings = at_run_time(
        later, DB, checked.values, Variables(current=SHARED, output={"prefix": "shop"})
    )
    assert good["db_name"] == "shop_db" and good["backup"] == {"window": "02:00"}
    assert warnings == []
    with pytest.raises(ValueError, match="component input 'db_name' is invalid"):
        at_run_time(
            later, DB, checked.values, Variables(current=SHARED, output={"prefix": "Shop!"})
        )


def test_pinned_component_is_found_only_when_something_waits_for_run_time() -> None:
    bundle = CatalogBundle.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogBundle",
            "metadata": {"id": "b", "name": "B", "category": "bundles"},
            "spec": {
                "components": [
                    {"id": "first", "item": "db", "inputs": {"db_name": "{{ .current.name }}"}},
                    {"id": "second", "item": "db", "inputs": {"db_name": "{{ .output.x }}"}},
                ]
            },
        }
    )
    definition = pin(bundle, {"db": DB})
    assert pinned_component(definition, "first") is None
    found = pinned_component(definition, "second")
    assert found is not None and found[0].id == "second" and found[1].metadata.id == "db"


def test_build_tasks_lists_every_component_problem() -> None:
    bundle = CatalogBundle.model_validate(
        {
            "apiVersion": "loom/v1",
            "kind": "CatalogBundle",
            "metadata": {"id": "b", "name": "B", "category": "bundles"},
            "spec": {
                "components": [
                    {"id": "one", "item": "db", "inputs": {"db_name": "ok", "backup.window": "1"}},
                    {"id": "two", "item": "db", "inputs": {"db_name": "NO", "backup.window": "1"}},
                    {
                        "id": "three",
                        "item": "db",
                        "inputs": {"db_name": "ok", "replicas": 0, "backup.window": "1"},
                    },
                ]
            },
        }
    )
    with pytest.raises(RejectedInput) as caught:
        build_tasks(bundle, {"db": DB}, {}, SECRETS)
    assert [d.field for d in caught.value.details] == [
        "components.two.db_name",
        "components.three.replicas",
    ]
    first_only = bundle.spec.model_copy(update={"components": bundle.spec.components[:1]})
    tasks = build_tasks(bundle.model_copy(update={"spec": first_only}), {"db": DB}, {}, SECRETS)
    assert tasks[0].inputs == {"db_name": "ok", "replicas": 1, "backup": {"window": "1"}}
