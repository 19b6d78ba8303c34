"""The sample catalogs under examples/: `catalog/` must load cleanly and exercise every
feature of the document format; `catalog-broken/` must report each of its planted errors
at the right file and line while still serving its one good item. Every sample form must
render: empty input gives only "is required" errors, and valid input is accepted."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loom.actions.registry import action_types
from loom.catalog.documents import (
    CatalogBundle,
    CatalogItem,
    Condition,
    FieldType,
    Form,
    FormField,
)
from loom.catalog.form_input import check_value, validate_input
from loom.catalog.forms import field_paths, walk
from loom.catalog.loader import LoadedCatalog, load_directory
from loom.catalog.references import references, strings_in
from loom.catalog.rules import dependency_order, find_cycle

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = EXAMPLES / "catalog"
BROKEN = EXAMPLES / "catalog-broken"
DOCS = EXAMPLES.parent / "docs" / "catalog.md"
#: Teams the sample catalog may name: the demo's teams, the bootstrap `platform` team and
#: `data` (owner of databases and storage in the sample CODEOWNERS).
TEAMS = {"platform", "payments", "checkout", "search", "data"}


@pytest.fixture(scope="module")
def sample() -> LoadedCatalog:
    return load_directory(SAMPLE)


@pytest.fixture(scope="module")
def broken() -> LoadedCatalog:
    return load_directory(BROKEN)


def _documents(catalog: LoadedCatalog) -> list[CatalogItem | CatalogBundle]:
    return [entry.document for entry in catalog.entries]


def _conditions(form: Form) -> Iterator[Condition]:
    def nodes(condition: Condition) -> Iterator[Condition]:
        yield condition
        for child in [*(condition.all or []), *(condition.any or [])]:
            yield from nodes(child)
        if condition.not_ is not None:
            yield from nodes(condition.not_)

    for _path, f in walk(form.fields):
        for condition in (f.visible_if, f.required_if):
            if condition is not None:
                yield from nodes(condition)


# -- the sample catalog -------------------------------------------------------------------


def test_sample_catalog_loads_without_problems(sample: LoadedCatalog) -> None:
    assert [str(p) for p in sample.problems] == []
    assert sample.rejected == set()


def test_sample_catalog_size(sample: LoadedCatalog) -> None:
    categories = {e.document.metadata.category for e in sample.items.values()}
    assert len(sample.items) >= 8
    assert len(categories) >= 4
    assert len(sample.bundles) >= 2
    assert {"postgres-database", "kubernetes-namespace", "dns-record"} <= set(sample.items)
    assert {"new-web-service", "team-starter-kit"} <= set(sample.bundles)


def test_files_follow_the_layout(sample: LoadedCatalog) -> None:
    for entry in sample.items.values():
        category = entry.document.metadata.category
        assert entry.file == f"catalog/{category}/{entry.id}.yaml"
    for entry in sample.bundles.values():
        assert entry.file == f"bundles/{entry.id}.yaml"


def test_every_entry_has_an_owner_from_metadata_or_codeowners(sample: LoadedCatalog) -> None:
    owners = {e.id: e.owner for e in sample.entries}
    assert all(owners.values()), owners
    assert set(owners.values()) <= TEAMS
    explicit = {e.id for e in sample.entries if e.document.metadata.owner}
    assert explicit and explicit != set(owners)  # both ways are shown
    # CODEOWNERS: folders map to teams, the last matching pattern wins.
    assert owners["postgres-database"] == "data"
    assert owners["s3-bucket"] == "data"
    assert owners["kubernetes-namespace"] == "platform"
    assert owners["new-web-service"] == "platform"
    # An explicit owner wins over the CODEOWNERS entry for its folder.
    assert owners["opensearch-index"] == "search"
    assert owners["feature-flag-project"] == "checkout"
    assert owners["payment-sandbox-account"] == "payments"


def test_every_field_type_is_used(sample: LoadedCatalog) -> None:
    used = {f.type for doc in _documents(sample) for _p, f in walk(doc.spec.form.fields)}
    assert used == set(typing.get_args(FieldType))


def test_every_field_attribute_is_used(sample: LoadedCatalog) -> None:
    fields = [f for doc in _documents(sample) for _p, f in walk(doc.spec.form.fields)]
    for attr in FormField.model_fields:
        assert any(attr in f.model_fields_set for f in fields), f"no field sets {attr}"
    assert any(f.option_items() and f.option_items()[0].label for f in fields)
    assert any(f.type == "group" and f.visible_if is not None for f in fields)


def test_every_condition_form_is_used(sample: LoadedCatalog) -> None:
    used: set[str] = set()
    for doc in _documents(sample):
        for condition in _conditions(doc.spec.form):
            used |= condition.model_fields_set - {"field"}
    assert used == {"equals", "not_equals", "in_", "not_in", "is_set", "all", "any", "not_"}


def test_every_builtin_action_type_and_template_namespace_is_used(sample: LoadedCatalog) -> None:
    types: set[str] = set()
    namespaces: set[str] = set()
    group_paths: set[str] = set()
    for entry in sample.items.values():
        item = entry.document
        assert isinstance(item, CatalogItem)
        if item.spec.approval is not None:
            types.add("approval")
        for action in item.spec.fulfillment.actions:
            types.add(action.type)
            for _sub, text in strings_in(action.config):
                for namespace, path in references(text):
                    namespaces.add(namespace)
                    if namespace == "current" and "." in path:
                        group_paths.add(path)
    assert types == set(action_types())
    assert namespaces == {"current", "output", "metadata", "system"}
    assert group_paths  # templates reach into groups (`.current.backup.window`)


def test_actions_declare_outputs_used_later(sample: LoadedCatalog) -> None:
    chained = 0
    for entry in sample.items.values():
        item = entry.document
        assert isinstance(item, CatalogItem)
        produced: set[str] = set()
        for action in item.spec.fulfillment.actions:
            used = {
                path
                for _sub, text in strings_in(action.config)
                for namespace, path in references(text)
                if namespace == "output"
            }
            assert used <= produced, (item.metadata.id, action.id)
            chained += bool(used)
            produced |= set(action.outputs)
    assert chained >= 5


def test_bundles_have_sound_dependencies(sample: LoadedCatalog) -> None:
    for entry in sample.bundles.values():
        bundle = entry.document
        assert isinstance(bundle, CatalogBundle)
        graph = {c.id: list(c.depends_on) for c in bundle.spec.components}
        assert find_cycle(graph) is None
        order = dependency_order(graph)
        for component in bundle.spec.components:
            assert component.item in sample.items
            assert all(order.index(d) < order.index(component.id) for d in component.depends_on)
    web = sample.bundles["new-web-service"].document
    assert isinstance(web, CatalogBundle)
    components = {c.id: c for c in web.spec.components}
    assert [components[c].item for c in ("namespace", "database", "dns")] == [
        "kubernetes-namespace",
        "postgres-database",
        "dns-record",
    ]
    assert components["database"].depends_on == ["namespace"]
    assert components["dns"].depends_on == ["namespace"]
    assert components["dns"].inputs["name"] == "{{ .current.service_name }}"


def test_docs_quote_the_sample_catalog_verbatim() -> None:
    """docs/catalog.md's complete examples are copies of the sample files: keep them so."""
    examples = re.findall(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```\n", DOCS.read_text(), re.S)
    assert len(examples) >= 3
    root = EXAMPLES.parent
    for path, quoted in examples:
        assert quoted == (root / path).read_text(), f"docs/catalog.md is out of date for {path}"


# -- every sample form renders and accepts valid input ------------------------------------

_TEXT_CANDIDATES = [
    "orders",
    "orders-api",
    "acme/orders-api",
    "SEC-1234",
    "#orders",
    "10:00",
    "/healthz",
    "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012",
    "arn:aws:kms:eu-west-1:123456789012:key/12345678-1234-1234-1234-123456789012",
    "a value that is long enough for every minimum length",
]


def sample_value(f: FormField) -> Any:
    """A valid value for one field, from its options, range and pattern."""
    if f.type in ("enum", "multi-enum"):
        values = f.option_values()
        candidates: list[Any] = (
            [values[0]] if f.type == "enum" else [values[: max(f.min_length or 1, 1)]]
        )
    elif f.type in ("integer", "number"):
        low = f.min if f.min is not None else 1
        candidates = [int(low) if f.type == "integer" else low]
    elif f.type == "boolean":
        candidates = [True]
    elif f.type == "email":
        candidates = ["dev@acme.example"]
    elif f.type == "url":
        candidates = ["https://docs.acme.example/runbook"]
    elif f.type == "date":
        candidates = ["2030-01-15"]
    else:
        candidates = [*([f.default] if f.default is not None else []), *_TEXT_CANDIDATES]
    for candidate in candidates:
        value, issue = check_value(f, candidate)
        if issue is None:
            return value
    raise AssertionError(f"no sample value for field {f.id} ({f.type}, pattern {f.pattern})")


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


def required_input(document: CatalogItem | CatalogBundle) -> dict[str, Any]:
    """The smallest valid input: fill what the form says is required until it passes
    (a value can make another field required through requiredIf)."""
    fields = field_paths(document.spec.form)
    data: dict[str, Any] = {}
    for _round in range(len(fields) + 1):
        result = validate_input(document, data)
        if result.ok:
            return data
        assert {e.issue for e in result.errors} == {"is required"}, result.errors
        for error in result.errors:
            _set(data, error.field, sample_value(fields[error.field]))
    raise AssertionError(f"{document.metadata.id}: required fields never settle")


def _all_forms() -> list[Any]:
    catalog = load_directory(SAMPLE)
    return [pytest.param(doc, id=doc.metadata.id) for doc in _documents(catalog)]


@pytest.mark.parametrize("document", _all_forms())
def test_empty_input_reports_only_required_fields(
    document: CatalogItem | CatalogBundle,
) -> None:
    result = validate_input(document, {})
    assert all(e.issue == "is required" for e in result.errors), result.errors
    required = {
        p
        for p, f in walk(document.spec.form.fields)
        if f.required and f.default is None and f.visible_if is None and f.type != "group"
    }
    assert required <= {e.field for e in result.errors}


@pytest.mark.parametrize("document", _all_forms())
def test_required_values_are_enough(document: CatalogItem | CatalogBundle) -> None:
    data = required_input(document)
    result = validate_input(document, data)
    assert result.ok, result.errors
    # Defaults are applied to what was left out.
    for path, f in walk(document.spec.form.fields):
        if f.default is not None and f.visible_if is None and f.type != "secret":
            value: Any = result.values
            for part in path.split("."):
                value = value[part]
            assert value == check_value(f, f.default)[0]


@pytest.mark.parametrize("document", _all_forms())
def test_every_field_filled_in_is_valid(document: CatalogItem | CatalogBundle) -> None:
    """Each field's constraints can be met; values of hidden fields are dropped."""
    data: dict[str, Any] = {}
    for path, f in walk(document.spec.form.fields):
        if f.type != "group":
            _set(data, path, sample_value(f))
    result = validate_input(document, data)
    assert result.ok, result.errors


def test_conditions_of_the_sample_forms(sample: LoadedCatalog) -> None:
    postgres = sample.items["postgres-database"].document
    assert isinstance(postgres, CatalogItem)
    base = {"db_name": "orders", "environment": "production", "size": "large"}
    result = validate_input(postgres, base)
    assert [(e.field, e.issue) for e in result.errors] == [("justification", "is required")]
    result = validate_input(postgres, {**base, "environment": "dev", "read_replicas": 2})
    assert result.ok
    assert "read_replicas" not in result.values  # hidden outside production: dropped
    assert "high_availability" not in result.values
    result = validate_input(postgres, {**base, "backup": {"window": "25:00-26:00"}})
    assert {e.field for e in result.errors} == {"justification", "backup.window"}

    bucket = sample.items["s3-bucket"].document
    assert isinstance(bucket, CatalogItem)
    public = {"bucket_name": "assets", "classification": "public", "public_read": True}
    assert [e.field for e in validate_input(bucket, public).errors] == ["public_justification"]
    internal = {**public, "classification": "internal"}  # hides public_read, so its dependant
    assert validate_input(bucket, internal).ok


def test_secret_values_are_kept_apart(sample: LoadedCatalog) -> None:
    merchant = sample.items["payment-sandbox-account"].document
    assert isinstance(merchant, CatalogItem)
    data = required_input(merchant)
    result = validate_input(merchant, data)
    assert set(result.secrets) == {"webhook_secret"}
    assert "webhook_secret" not in result.values
    assert result.secrets["webhook_secret"] == data["webhook_secret"]


# -- the broken catalog -------------------------------------------------------------------

EXPECTED_PROBLEMS = [
    ("bundles/cycle.yaml:8", "spec.components: dependency cycle: first → second → first"),
    (
        "bundles/unknown-item.yaml:14",
        "spec.components[1].item: unknown catalog item 'mysql-database'",
    ),
    (
        "catalog/broken/bad-action-config.yaml:13",
        "spec.fulfillment.actions[0].config.method: Input should be 'GET', 'POST'",
    ),
    (
        "catalog/broken/bad-pattern.yaml:12",
        "spec.form.fields[0].pattern: not a valid regular expression",
    ),
    ("catalog/broken/bad-yaml.yaml:8", "invalid YAML:"),
    (
        "catalog/broken/duplicate-id-b.yaml:5",
        "metadata.id: duplicate id 'duplicate-id' (first in catalog/broken/duplicate-id-a.yaml:5)",
    ),
    ("catalog/broken/duplicate-key.yaml:7", "duplicate key 'name'"),
    (
        "catalog/broken/missing-form-field.yaml:18",
        "spec.fulfillment.actions[0].config.summary: .current.db_nme: no form field 'db_nme'",
    ),
    (
        "catalog/broken/output-not-produced.yaml:14",
        "spec.fulfillment.actions[0].config.summary: .output.record_id: "
        "no earlier action produces output 'record_id'",
    ),
    (
        "catalog/broken/unknown-action-type.yaml:11",
        "spec.fulfillment.actions[0].type: unknown action type 'slack-message'",
    ),
    (
        "catalog/broken/unknown-condition-field.yaml:15",
        "spec.form.fields[1].visibleIf: refers to unknown field 'enviroment'",
    ),
    ("catalog/broken/unknown-field.yaml:12", "spec.form.fields[0].requird: unknown field"),
]


@pytest.mark.parametrize(
    ("where", "fragment"), EXPECTED_PROBLEMS, ids=[e[0] for e in EXPECTED_PROBLEMS]
)
def test_broken_document_is_reported_at_its_line(
    broken: LoadedCatalog, where: str, fragment: str
) -> None:
    file = where.split(":")[0]
    in_file = [str(p) for p in broken.problems if p.file == file]
    assert len(in_file) == 1, in_file
    assert in_file[0].startswith(f"{where} {fragment}"), in_file[0]


def test_broken_catalog_reports_nothing_else(broken: LoadedCatalog) -> None:
    assert len(broken.problems) == len(EXPECTED_PROBLEMS), [str(p) for p in broken.problems]
    documented = (BROKEN / "README.md").read_text()
    for where, _fragment in EXPECTED_PROBLEMS:
        file, line = where.split(":")
        assert f"`{file}` | `:{line} " in documented, where


def test_broken_catalog_still_serves_the_good_item(broken: LoadedCatalog) -> None:
    assert set(broken.items) == {"good-item", "duplicate-id"}
    assert broken.items["good-item"].owner == "platform"
    assert broken.items["duplicate-id"].file == "catalog/broken/duplicate-id-a.yaml"
    assert broken.bundles == {}
    assert {
        "duplicate-id",  # the second document with this id was skipped
        "unknown-field",
        "bad-pattern",
        "unknown-condition-field",
        "missing-form-field",
        "output-not-produced",
        "unknown-action-type",
        "bad-action-config",
        "unknown-item-bundle",
        "cycle-bundle",
    } <= broken.rejected  # files that are not YAML have no id to reject
    good = broken.items["good-item"].document
    assert isinstance(good, CatalogItem)
    assert validate_input(good, {"name": "fine"}).ok
