"""loader: every document under catalog/ and bundles/ validated, every problem reported at
once as `file:line path: message`, bad documents skipped without hiding the good ones.

Expected lines are found in the test's own YAML with `at()`, independently of the loader.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent, indent

import pytest

from loom.catalog.codeowners import CodeOwners
from loom.catalog.documents import CatalogItem
from loom.catalog.loader import LoadedCatalog, Problem, load_directory, load_files, read_files
from tests.catalog.conftest import BUNDLE, CODEOWNERS, NAMESPACE, POSTGRES, write_catalog

FILE = "catalog/thing.yaml"
TICKET = """\
- id: ticket
  type: jira-ticket
  config:
    project: OPS
    summary: "New thing"
"""
NAME_FIELD = """\
- id: name
  type: string
"""


def item(
    fields: str = NAME_FIELD,
    actions: str = TICKET,
    *,
    item_id: str = "thing",
    metadata: str = "",
) -> str:
    """A CatalogItem document; `fields` and `actions` are YAML lists, `metadata` extra keys."""
    return (
        "apiVersion: loom/v1\n"
        "kind: CatalogItem\n"
        "metadata:\n"
        f"  id: {item_id}\n"
        f"  name: {item_id.capitalize()}\n"
        "  category: misc\n"
        f"{indent(dedent(metadata), '  ')}"
        "spec:\n"
        "  form:\n"
        "    fields:\n"
        f"{indent(dedent(fields), '      ')}"
        "  fulfillment:\n"
        "    actions:\n"
        f"{indent(dedent(actions), '      ')}"
    )


def bundle(components: str, fields: str = NAME_FIELD, *, bundle_id: str = "combo") -> str:
    return (
        "apiVersion: loom/v1\n"
        "kind: CatalogBundle\n"
        "metadata:\n"
        f"  id: {bundle_id}\n"
        "  name: Combo\n"
        "  category: bundles\n"
        "spec:\n"
        "  form:\n"
        "    fields:\n"
        f"{indent(dedent(fields), '      ')}"
        "  components:\n"
        f"{indent(dedent(components), '    ')}"
    )


def at(text: str, snippet: str, nth: int = 1) -> int:
    """The 1-based line of the `nth` line of `text` containing `snippet`."""
    lines = [i for i, line in enumerate(text.splitlines(), 1) if snippet in line]
    assert len(lines) >= nth, f"{snippet!r} not in text"
    return lines[nth - 1]


def load(
    *files: tuple[str, str],
    owners: CodeOwners | None = None,
    context_items: Mapping[str, CatalogItem] | None = None,
    last_good: Mapping[str, CatalogItem] | None = None,
) -> LoadedCatalog:
    return load_files(files, owners, context_items=context_items, last_good=last_good)


def problems(catalog: LoadedCatalog) -> list[str]:
    return [str(p) for p in catalog.problems]


def only_problem(text: str, file: str = FILE) -> str:
    """The one problem of a catalog made of `text`, which must be rejected."""
    catalog = load((file, text))
    assert len(catalog.problems) == 1, problems(catalog)
    assert catalog.items == {} and catalog.bundles == {}
    return str(catalog.problems[0])


# -- a good catalog -----------------------------------------------------------------------


def test_a_good_catalog_loads_without_problems(catalog_dir: Path) -> None:
    catalog = load_directory(catalog_dir)
    assert catalog.problems == []
    assert set(catalog.items) == {"postgres", "namespace"}
    assert set(catalog.bundles) == {"web-service"}
    assert catalog.rejected == set()
    assert catalog.files == 3
    postgres = catalog.items["postgres"]
    assert (postgres.file, postgres.line, postgres.kind) == (
        "catalog/databases/postgres.yaml",
        1,
        "CatalogItem",
    )
    assert len(postgres.digest) == 64


def test_the_digest_changes_with_the_definition_only() -> None:
    first = load(("catalog/a.yaml", POSTGRES)).items["postgres"].digest
    moved = load(("catalog/elsewhere.yaml", "# a comment\n" + POSTGRES)).items["postgres"]
    changed = load(("catalog/a.yaml", POSTGRES.replace("1.0.0", "1.0.1"))).items["postgres"]
    assert moved.digest == first
    assert changed.digest != first


@pytest.mark.parametrize("name", ["catalog", "catalog-broken"])
def test_a_load_leaves_no_reference_cycles_behind(name: str) -> None:
    """What a load builds and drops is freed at once: garbage in reference cycles would
    make every later load pay for passes of the cycle collector (it once cost 0.1 s)."""
    root = Path(__file__).resolve().parents[2] / "examples" / name
    load_directory(root)  # first-use caches (pydantic, the template engine) fill here
    gc.collect()
    catalog = load_directory(root)
    assert catalog.items
    del catalog
    assert gc.collect() == 0


def test_owner_comes_from_metadata_before_codeowners(catalog_dir: Path) -> None:
    catalog = load_directory(catalog_dir)
    assert catalog.items["postgres"].owner == "data"  # catalog/databases/ @acme/data
    assert catalog.items["namespace"].owner == "payments"  # metadata.owner
    assert catalog.bundles["web-service"].owner == "platform"  # * @acme/platform


def test_owner_is_none_without_metadata_or_codeowners_match() -> None:
    catalog = load(("catalog/a.yaml", POSTGRES), owners=CodeOwners("bundles/ @acme/x\n"))
    assert catalog.items["postgres"].owner is None


def test_only_yaml_files_under_catalog_and_bundles_are_read(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {
            "catalog/a.yaml": "a: 1\n",
            "catalog/deep/b.yml": "b: 1\n",
            "bundles/c.yaml": "c: 1\n",
            "catalog/notes.md": "# not a document\n",
            "elsewhere/d.yaml": "d: 1\n",
            "e.yaml": "e: 1\n",
        },
    )
    assert [path for path, _ in read_files(tmp_path)] == [
        "catalog/a.yaml",
        "catalog/deep/b.yml",
        "bundles/c.yaml",
    ]


def test_files_are_read_in_path_order_through_linked_files_not_linked_folders(
    tmp_path: Path,
) -> None:
    write_catalog(
        tmp_path,
        {
            "catalog/a-b/x.yaml": "x: 1\n",
            "catalog/a/x.yaml": "x: 1\n",
            "catalog/a/y.YAML": "not: read\n",
            "catalog/a.yaml/z.yaml": "z: 1\n",
            "outside/linked.yaml": "l: 1\n",
            "outside/folder/w.yaml": "w: 1\n",
        },
    )
    (tmp_path / "catalog" / "link.yaml").symlink_to(tmp_path / "outside" / "linked.yaml")
    (tmp_path / "catalog" / "dir").symlink_to(tmp_path / "outside" / "folder")
    (tmp_path / "catalog" / "loop").symlink_to(tmp_path / "catalog")
    assert read_files(tmp_path) == [
        ("catalog/a/x.yaml", b"x: 1\n"),  # "a" before "a-b", as pathlib sorts parts
        ("catalog/a-b/x.yaml", b"x: 1\n"),
        ("catalog/a.yaml/z.yaml", b"z: 1\n"),
        ("catalog/link.yaml", b"l: 1\n"),
    ]


def test_codeowners_is_read_from_the_github_locations(tmp_path: Path) -> None:
    write_catalog(
        tmp_path,
        {"catalog/a.yaml": POSTGRES, ".github/CODEOWNERS": "* @acme/from-github-dir\n"},
    )
    assert load_directory(tmp_path).items["postgres"].owner == "from-github-dir"


# -- problems in one document ---------------------------------------------------------------


def test_bad_yaml_is_reported_at_its_line() -> None:
    text = "apiVersion: loom/v1\nkind: CatalogItem\nmetadata: [oops\nspec: {}\n"
    assert only_problem(text) == (f"{FILE}:4 invalid YAML: did not find expected ',' or ']'")


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    text = item(metadata="name: Again\n")
    assert only_problem(text) == f"{FILE}:{at(text, 'name: Again')} duplicate key 'name'"


def test_unknown_field_is_reported_at_its_key() -> None:
    text = item("- id: name\n  type: string\n  requird: true\n")
    assert only_problem(text) == (
        f"{FILE}:{at(text, 'requird')} spec.form.fields[0].requird: unknown field"
    )


def test_missing_required_field_is_reported_at_its_parent() -> None:
    text = item().replace("  name: Thing\n", "")
    assert only_problem(text) == f"{FILE}:{at(text, 'metadata:')} metadata.name: is required"


def test_wrong_kind_is_reported_at_the_kind() -> None:
    text = item().replace("kind: CatalogItem", "kind: CatalogThing")
    # Kinds registered by other domains (Service, ScorecardRule) may follow.
    assert only_problem(text).startswith(f"{FILE}:2 kind: must be CatalogItem or CatalogBundle")


def test_missing_kind_is_reported_at_the_document_start() -> None:
    text = "# header\n" + item().replace("kind: CatalogItem\n", "")
    # Kinds registered by other domains (Service, ScorecardRule) may follow.
    assert only_problem(text).startswith(f"{FILE}:2 kind: must be CatalogItem or CatalogBundle")


def test_wrong_api_version_is_reported() -> None:
    text = item().replace("loom/v1", "loom/v2")
    assert only_problem(text) == f"{FILE}:1 apiVersion: Input should be 'loom/v1'"


def test_a_document_that_is_not_a_mapping_is_reported() -> None:
    assert only_problem("- just\n- a list\n") == f"{FILE}:1 a document must be a mapping"
    assert only_problem("--- ~\n") == f"{FILE}:1 a document must be a mapping"


def test_invalid_slug_is_reported() -> None:
    text = item(item_id="Not_A_Slug")
    assert only_problem(text).startswith(
        f"{FILE}:{at(text, 'id: Not_A_Slug')} metadata.id: String should match pattern"
    )


def test_bad_regex_is_reported_at_the_pattern() -> None:
    text = item('- id: name\n  type: string\n  pattern: "[a-z("\n')
    assert only_problem(text).startswith(
        f"{FILE}:{at(text, 'pattern:')} spec.form.fields[0].pattern: "
        "not a valid regular expression ("
    )


def test_unknown_action_type_is_reported_with_the_known_ones() -> None:
    text = item(actions="- id: notify\n  type: slack-message\n")
    assert only_problem(text) == (
        f"{FILE}:{at(text, 'type: slack-message')} spec.fulfillment.actions[0].type: "
        "unknown action type 'slack-message' "
        "(known: approval, callback, github-commit, github-workflow, jira-ticket, rest-api, "
        "terraform-run)"
    )


def test_bad_action_config_is_reported_in_the_words_of_other_problems() -> None:
    text = item(
        actions="""\
        - id: call
          type: rest-api
          config:
            method: POST
            bogus: 1
        """
    )
    assert problems(load((FILE, text))) == [
        f"{FILE}:{at(text, 'config:')} spec.fulfillment.actions[0].config.url: is required",
        f"{FILE}:{at(text, 'bogus')} spec.fulfillment.actions[0].config.bogus: unknown field",
    ]


def test_action_config_type_error_points_at_the_key() -> None:
    text = item(
        actions="""\
        - id: call
          type: rest-api
          config:
            url: https://example.test
            method: FETCH
        """
    )
    assert only_problem(text).startswith(
        f"{FILE}:{at(text, 'method: FETCH')} spec.fulfillment.actions[0].config.method: "
        "Input should be 'GET', 'POST'"
    )


def test_condition_on_unknown_field_is_reported() -> None:
    text = item(
        """\
        - id: name
          type: string
        - id: extra
          type: string
          visibleIf: {field: nmae, isSet: true}
        """
    )
    assert only_problem(text) == (
        f"{FILE}:{at(text, 'visibleIf')} spec.form.fields[1].visibleIf: "
        "refers to unknown field 'nmae'"
    )


def test_unquoted_yaml_date_is_a_valid_date_default() -> None:
    text = item("- id: start\n  type: date\n  default: 2024-01-31\n")
    assert problems(load((FILE, text))) == []


def test_anchors_and_merge_keys_can_share_field_definitions() -> None:
    text = item(
        """\
        - &text {id: name, type: string, maxLength: 20}
        - <<: *text
          id: alias
        """
    )
    catalog = load((FILE, text))
    assert catalog.problems == []
    document = catalog.items["thing"].document
    assert isinstance(document, CatalogItem)
    assert [(f.id, f.max_length) for f in document.spec.form.fields] == [
        ("name", 20),
        ("alias", 20),
    ]


# -- templates ------------------------------------------------------------------------------


def summary_item(summary: str, fields: str = NAME_FIELD) -> str:
    return item(
        fields,
        f"""\
        - id: ticket
          type: jira-ticket
          config:
            project: OPS
            summary: "{summary}"
          outputs: [ticket_key]
        """,
    )


def template_problem(summary: str, fields: str = NAME_FIELD) -> str:
    text = summary_item(summary, fields)
    catalog = load((FILE, text))
    assert len(catalog.problems) == 1, problems(catalog)
    prefix = f"{FILE}:{at(text, 'summary:')} spec.fulfillment.actions[0].config.summary: "
    message = str(catalog.problems[0])
    assert message.startswith(prefix), message
    return message.removeprefix(prefix)


def test_template_current_to_a_missing_field_is_reported() -> None:
    assert template_problem("{{ .current.nmae }}") == ".current.nmae: no form field 'nmae'"


def test_template_current_to_a_field_in_a_group() -> None:
    fields = "- id: db\n  type: group\n  fields:\n    - id: engine\n      type: string\n"
    assert load((FILE, summary_item("{{ .current.db.engine }}", fields))).problems == []
    assert template_problem("{{ .current.db.egnine }}", fields) == (
        ".current.db.egnine: no form field 'db.egnine'"
    )


def test_output_of_an_earlier_action_may_be_used() -> None:
    text = item(
        actions="""\
        - id: create
          type: rest-api
          config: {url: "https://api.test/things"}
          outputs: [thing_id]
        - id: ticket
          type: jira-ticket
          config:
            project: OPS
            summary: "Created {{ .output.thing_id }}"
        """
    )
    assert problems(load((FILE, text))) == []


def test_output_of_the_same_action_is_not_yet_produced() -> None:
    assert template_problem("{{ .output.ticket_key }}") == (
        ".output.ticket_key: no earlier action produces output 'ticket_key'"
    )


def test_output_of_a_later_action_is_not_yet_produced() -> None:
    text = item(
        actions="""\
        - id: ticket
          type: jira-ticket
          config:
            project: OPS
            summary: "For {{ .output.thing_id }}"
        - id: create
          type: rest-api
          config: {url: "https://api.test/things"}
          outputs: [thing_id]
        """
    )
    assert problems(load((FILE, text))) == [
        f"{FILE}:{at(text, 'summary:')} spec.fulfillment.actions[0].config.summary: "
        ".output.thing_id: no earlier action produces output 'thing_id'"
    ]


def test_duplicate_output_keys_are_reported() -> None:
    text = item(
        actions="""\
        - id: first
          type: rest-api
          config: {url: "https://api.test/a"}
          outputs: [url]
        - id: second
          type: rest-api
          config: {url: "https://api.test/b"}
          outputs: [other, url]
        """
    )
    assert problems(load((FILE, text))) == [
        f"{FILE}:{at(text, 'outputs: [other, url]')} spec.fulfillment.actions[1].outputs[1]: "
        "output 'url' is already produced by 'first'"
    ]


def test_duplicate_action_ids_are_reported() -> None:
    text = item(actions=TICKET + TICKET)
    assert only_problem(text) == (
        f"{FILE}:{at(text, '- id: ticket', 2)} spec.fulfillment.actions[1].id: "
        "duplicate action id 'ticket'"
    )


def test_template_metadata_of_a_known_item_and_field() -> None:
    catalog = load(
        (FILE, summary_item("{{ .metadata.thing.name }} {{ .metadata.postgres.owner }}")),
        ("catalog/postgres.yaml", POSTGRES),
    )
    assert catalog.problems == []


def test_template_metadata_of_an_unknown_item_is_reported() -> None:
    assert template_problem("{{ .metadata.mysql.name }}") == (
        ".metadata.mysql.name: no catalog item 'mysql'"
    )


def test_template_metadata_unknown_field_is_reported() -> None:
    assert template_problem("{{ .metadata.thing.colour }}") == (
        ".metadata.thing.colour: items have no metadata field 'colour'"
    )


def test_template_metadata_custom_fields_are_those_of_the_item() -> None:
    text = summary_item("{{ .metadata.thing.custom.tier }} {{ .metadata.thing.custom.sla }}")
    text = text.replace("  category: misc\n", "  category: misc\n  custom: {tier: gold}\n")
    catalog = load((FILE, text))
    assert problems(catalog) == [
        f"{FILE}:{at(text, 'summary:')} spec.fulfillment.actions[0].config.summary: "
        ".metadata.thing.custom.sla: item 'thing' has no custom field 'sla'"
    ]


def test_template_system_values() -> None:
    known = summary_item("{{ .system.user.email }} {{ .system.requestId }}")
    assert load((FILE, known)).problems == []
    assert template_problem("{{ .system.user.phone }}").startswith(
        ".system.user.phone: unknown system value (known: callbackUrl, correlationId, "
    )


def test_template_unknown_namespace_is_reported() -> None:
    assert template_problem("{{ .Values.name }}") == (
        ".Values.name: unknown namespace (use one of current, output, metadata, system)"
    )


def test_templates_anywhere_in_a_config_are_checked() -> None:
    text = item(
        actions="""\
        - id: commit
          type: github-commit
          config:
            repo: acme/infra
            message: add
            files:
              - path: "things/{{ .current.nmae }}.tf"
                content: "x"
        """
    )
    assert only_problem(text) == (
        f"{FILE}:{at(text, '- path:')} spec.fulfillment.actions[0].config.files[0].path: "
        ".current.nmae: no form field 'nmae'"
    )


# -- bundles --------------------------------------------------------------------------------

ITEMS = (("catalog/postgres.yaml", POSTGRES), ("catalog/namespace.yaml", NAMESPACE))


def bundle_problems(text: str, *extra: tuple[str, str]) -> list[str]:
    catalog = load(*ITEMS, *extra, ("bundles/combo.yaml", text))
    assert "combo" not in catalog.bundles
    assert "combo" in catalog.rejected
    assert set(catalog.items) == {"postgres", "namespace"}  # the bundle hides no item
    return problems(catalog)


def test_a_valid_bundle_loads() -> None:
    catalog = load(*ITEMS, ("bundles/web.yaml", BUNDLE))
    assert catalog.problems == []
    assert set(catalog.bundles) == {"web-service"}


def test_bundle_unknown_item_reference_is_reported() -> None:
    text = bundle("- id: cache\n  item: redis\n")
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, 'item: redis')} spec.components[0].item: "
        "unknown catalog item 'redis'"
    ]


def test_bundle_depends_on_unknown_component_is_reported() -> None:
    text = bundle("- id: ns\n  item: namespace\n  dependsOn: [db]\n")
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, 'dependsOn')} spec.components[0].dependsOn[0]: "
        "no component 'db' in this bundle"
    ]


def test_bundle_self_dependency_is_reported_once() -> None:
    text = bundle("- id: ns\n  item: namespace\n  dependsOn: [ns]\n")
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, 'dependsOn')} spec.components[0].dependsOn[0]: "
        "a component cannot depend on itself"
    ]


def test_bundle_dependency_cycle_shows_the_cycle() -> None:
    text = bundle(
        """\
        - id: first
          item: namespace
          dependsOn: [third]
        - id: second
          item: namespace
          dependsOn: [first]
        - id: third
          item: namespace
          dependsOn: [second]
        """
    )
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, 'components:')} spec.components: "
        "dependency cycle: first → third → second → first"
    ]


def test_bundle_duplicate_component_id_is_reported() -> None:
    text = bundle("- id: ns\n  item: namespace\n- id: ns\n  item: namespace\n")
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, '- id: ns', 2)} spec.components[1].id: "
        "duplicate component id 'ns'"
    ]


def test_bundle_input_for_a_field_the_item_lacks_is_reported() -> None:
    text = bundle("- id: ns\n  item: namespace\n  inputs: {name: x, colour: blue}\n")
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, 'inputs:')} spec.components[0].inputs.colour: "
        "item 'namespace' has no form field 'colour'"
    ]


def test_bundle_input_template_to_unknown_bundle_field_is_reported() -> None:
    text = bundle('- id: ns\n  item: namespace\n  inputs:\n    name: "{{ .current.nmae }}"\n')
    assert bundle_problems(text) == [
        f"bundles/combo.yaml:{at(text, '.current.nmae')} spec.components[0].inputs.name: "
        ".current.nmae: no form field 'nmae'"
    ]


def test_bundle_inputs_may_use_outputs_of_earlier_components() -> None:
    text = bundle(
        """\
        - id: db
          item: postgres
        - id: ns
          item: namespace
          dependsOn: [db]
          inputs:
            name: "{{ .output.ticket_key }}"
        """
    )
    assert problems(load(*ITEMS, ("bundles/combo.yaml", text))) == []


def test_required_item_field_not_provided_by_the_bundle_is_reported() -> None:
    text = bundle("- id: ns\n  item: namespace\n", fields="- id: team\n  type: string\n")
    assert bundle_problems(text) == [  # no inputs key: at the component
        f"bundles/combo.yaml:{at(text, '- id: ns')} spec.components[0].inputs: "
        "required field 'name' of item 'namespace' is not provided "
        "(add it to the bundle form or to this component's inputs)"
    ]


@pytest.mark.parametrize(
    ("fields", "component"),
    [
        (NAME_FIELD, "- id: ns\n  item: namespace\n"),  # by the bundle form
        ("- id: team\n  type: string\n", "- id: ns\n  item: namespace\n  inputs: {name: x}\n"),
    ],
    ids=["bundle-form", "inputs"],
)
def test_required_item_field_provided_by_the_bundle(fields: str, component: str) -> None:
    catalog = load(*ITEMS, ("bundles/combo.yaml", bundle(component, fields)))
    assert catalog.problems == []


def test_required_item_field_with_a_default_needs_no_input() -> None:
    defaulted = item(
        "- id: size\n  type: enum\n  required: true\n  options: [s, m]\n  default: s\n"
    )
    text = bundle("- id: t\n  item: thing\n", fields="- id: team\n  type: string\n")
    assert load((FILE, defaulted), ("bundles/combo.yaml", text)).problems == []


def test_a_bundle_can_use_items_of_the_served_catalog_without_reporting_them() -> None:
    served = load(*ITEMS).items
    context = {k: e.document for k, e in served.items() if isinstance(e.document, CatalogItem)}
    text = bundle(
        '- id: ns\n  item: namespace\n  inputs:\n    name: "{{ .metadata.postgres.name }}"\n'
    )
    catalog = load(("bundles/combo.yaml", text), context_items=context)
    assert catalog.problems == []
    assert set(catalog.bundles) == {"combo"}
    assert catalog.items == {}  # context items are known, not loaded


def test_an_item_template_can_refer_to_served_items_metadata() -> None:
    served = load(("catalog/postgres.yaml", POSTGRES)).items["postgres"].document
    assert isinstance(served, CatalogItem)
    text = summary_item("{{ .metadata.postgres.version }}")
    assert load((FILE, text), context_items={"postgres": served}).problems == []


def test_a_loaded_item_replaces_the_served_one_of_the_same_id() -> None:
    served = load(("catalog/namespace.yaml", NAMESPACE)).items["namespace"].document
    assert isinstance(served, CatalogItem)
    renamed = NAMESPACE.replace("- id: name\n", "- id: ns_name\n").replace(
        ".current.name", ".current.ns_name"
    )
    text = bundle("- id: ns\n  item: namespace\n  inputs: {name: x}\n")
    catalog = load(
        ("catalog/namespace.yaml", renamed),
        ("bundles/combo.yaml", text),
        context_items={"namespace": served},
    )
    assert problems(catalog) == [
        f"bundles/combo.yaml:{at(text, 'inputs:')} spec.components[0].inputs.name: "
        "item 'namespace' has no form field 'name'",
        f"bundles/combo.yaml:{at(text, 'inputs:')} spec.components[0].inputs: "
        "required field 'ns_name' of item 'namespace' is not provided "
        "(add it to the bundle form or to this component's inputs)",
    ]


def test_an_item_broken_now_stands_in_with_its_last_good_version_for_bundles() -> None:
    good = load(("catalog/namespace.yaml", NAMESPACE)).items["namespace"].document
    assert isinstance(good, CatalogItem)
    broken = NAMESPACE.replace("type: string", "type: strng")
    files = (
        ("catalog/namespace.yaml", broken),
        ("bundles/combo.yaml", bundle("- id: n\n  item: namespace\n")),
    )
    without = load(*files)
    assert "combo" not in without.bundles
    with_last_good = load(*files, last_good={"namespace": good})
    assert "namespace" not in with_last_good.items and "namespace" in with_last_good.rejected
    assert set(with_last_good.bundles) == {"combo"}


# -- the catalog as a whole -----------------------------------------------------------------


def test_duplicate_id_across_files_keeps_the_first_and_reports_the_second() -> None:
    catalog = load(("catalog/a.yaml", POSTGRES), ("catalog/b.yaml", POSTGRES))
    assert problems(catalog) == [
        f"catalog/b.yaml:{at(POSTGRES, 'id: postgres')} metadata.id: "
        f"duplicate id 'postgres' (first in catalog/a.yaml:{at(POSTGRES, 'id: postgres')})"
    ]
    assert catalog.items["postgres"].file == "catalog/a.yaml"


def test_a_bundle_cannot_take_the_id_of_an_item() -> None:
    text = BUNDLE.replace("id: web-service", "id: postgres")
    catalog = load(*ITEMS, ("bundles/web.yaml", text))
    assert problems(catalog) == [
        "bundles/web.yaml:4 metadata.id: duplicate id 'postgres' (first in catalog/postgres.yaml:4)"
    ]
    assert catalog.bundles == {}


def test_one_bad_document_never_hides_the_good_ones() -> None:
    broken = item(item_id="broken").replace("type: string", "type: strng")
    catalog = load(
        ("catalog/mixed.yaml", broken + "---\n" + POSTGRES),
        ("catalog/yaml-error.yaml", "a: [\n"),
        ("catalog/namespace.yaml", NAMESPACE),
    )
    assert set(catalog.items) == {"postgres", "namespace"}
    assert [p.file for p in catalog.problems] == ["catalog/mixed.yaml", "catalog/yaml-error.yaml"]
    assert catalog.rejected == {"broken"}  # a file that is not YAML has no id to reject


def test_lines_of_a_later_document_count_from_the_start_of_the_file() -> None:
    text = POSTGRES + "---\n" + item(metadata="owner: [x]\n")
    line = at(text, "owner: [x]")
    assert line > POSTGRES.count("\n") + 1
    assert problems(load(("catalog/two.yaml", text))) == [
        f"catalog/two.yaml:{line} metadata.owner: Input should be a valid string"
    ]


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    text = item(
        """\
        - id: name
          type: strng
        - id: size
          type: enum
          requird: true
        """
    )
    catalog = load((FILE, text))
    assert [p.path for p in catalog.problems] == [
        "spec.form.fields[0].type",
        "spec.form.fields[1].requird",
    ]


def test_rejected_holds_the_ids_of_invalid_documents() -> None:
    catalog = load(
        ("catalog/a.yaml", item(item_id="structural").replace("category: misc", "category: ''")),
        ("catalog/b.yaml", item('- id: x\n  type: string\n  pattern: "("\n', item_id="semantic")),
        ("bundles/c.yaml", bundle("- id: x\n  item: nope\n", bundle_id="dangling")),
        ("catalog/d.yaml", POSTGRES),
    )
    assert catalog.rejected == {"structural", "semantic", "dangling"}
    assert set(catalog.items) == {"postgres"}
    assert {p.document_id for p in catalog.problems} == catalog.rejected


def test_problems_are_sorted_by_file_and_line() -> None:
    late = item(item_id="late", metadata="owner: [x]\n")
    early = item('- id: x\n  type: string\n  pattern: "("\n', item_id="early")
    catalog = load(
        ("catalog/z.yaml", "a: [\n"),
        ("catalog/a.yaml", late + "---\n" + early),
        ("bundles/m.yaml", "- not a mapping\n"),
    )
    assert [(p.file, p.line) for p in catalog.problems] == sorted(
        (p.file, p.line) for p in catalog.problems
    )
    assert [p.file for p in catalog.problems] == [
        "bundles/m.yaml",
        "catalog/a.yaml",
        "catalog/a.yaml",
        "catalog/z.yaml",
    ]


def test_a_file_that_is_not_utf8_is_reported_not_fatal(tmp_path: Path) -> None:
    write_catalog(tmp_path, {"catalog/postgres.yaml": POSTGRES, "CODEOWNERS": CODEOWNERS})
    (tmp_path / "catalog" / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    catalog = load_directory(tmp_path)
    assert problems(catalog) == ["catalog/latin1.yaml:1 not UTF-8 text"]
    assert set(catalog.items) == {"postgres"}


def test_problem_text_without_a_path() -> None:
    assert str(Problem("a.yaml", 3, "", "invalid YAML: x")) == "a.yaml:3 invalid YAML: x"
    assert str(Problem("a.yaml", 3, "kind", "bad")) == "a.yaml:3 kind: bad"


def test_a_bad_option_is_one_problem_not_one_per_union_member() -> None:
    from loom.catalog.loader import load_files

    doc = (
        "apiVersion: loom/v1\nkind: CatalogItem\nmetadata: {id: a, name: A, category: x}\n"
        "spec:\n  form:\n    fields:\n      - id: size\n        type: enum\n"
        "        options: [{value: s, lable: Small}, small, [1]]\n"
        "  fulfillment:\n    actions: [{id: t, type: jira-ticket, config: {project: X, summary: s}}]\n"
    )
    problems = [str(p) for p in load_files([("catalog/a.yaml", doc)]).problems]
    assert problems == [
        "catalog/a.yaml:9 spec.form.fields[0].options[0].lable: unknown field",
        "catalog/a.yaml:9 spec.form.fields[0].options[2]: "
        "must be a mapping (Option), text, a whole number, a number or a boolean",
    ]
