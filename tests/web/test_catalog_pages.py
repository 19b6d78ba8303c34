"""The catalog in the portal: the catalog page (search, filters, cards, sync status), an
item's or a bundle's page (metadata, the form with every field type and its conditions),
the server's check of a posted form (errors next to fields, values kept, secrets never
echoed, the preview panel), and every sample of examples/catalog rendered."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from loom.auth.models import User
from loom.auth.passwords import hash_password
from loom.catalog.sync import sync
from loom.settings import Settings
from tests.catalog.conftest import BUNDLE, CODEOWNERS, NAMESPACE, POSTGRES, write_catalog
from tests.conftest import ADMIN_EMAIL, make_settings
from tests.web.conftest import csrf_of, sign_in

#: An item with every field type, a group, conditions, a secret and rich metadata.
SINK = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: kitchen-sink
  name: Kitchen sink
  description: Every kind of field a form can have.
  category: testing
  version: 3.1.4
  owner: payments
  tags: [demo, everything]
  links:
    - title: Sink runbook
      url: https://runbooks.example/sink
  custom:
    tier: gold
    limits: {cpu: 2}
spec:
  form:
    fields:
      - id: app_name
        type: string
        title: App name
        help: Lowercase letters, digits and dashes.
        placeholder: my-app
        required: true
        pattern: "[a-z][a-z0-9-]*"
        minLength: 3
        maxLength: 20
      - id: notes
        type: text
        title: Notes
        maxLength: 500
      - id: replicas
        type: integer
        title: Replicas
        default: 2
        min: 1
        max: 10
      - id: ratio
        type: number
        title: Ratio
        min: 0
        max: 1
      - id: public
        type: boolean
        title: Public
        default: false
      - id: hostname
        type: string
        title: Public hostname
        visibleIf: {field: public, equals: true}
        requiredIf: {field: public, equals: true}
      - id: tier
        type: enum
        title: Tier
        default: bronze
        options:
          - {value: bronze, label: Bronze}
          - {value: gold, label: Gold}
      - id: regions
        type: multi-enum
        title: Regions
        default: [eu]
        maxLength: 2
        options: [eu, us, ap]
      - id: contact
        type: email
        title: Contact
        required: true
      - id: homepage
        type: url
        title: Homepage
      - id: expires_on
        type: date
        title: Expires on
      - id: api_key
        type: secret
        title: API key
        minLength: 8
      - id: database
        type: group
        title: Database
        visibleIf: {field: tier, equals: gold}
        fields:
          - id: size
            type: enum
            title: Size
            default: small
            options: [small, large]
          - id: justification
            type: text
            title: Justification
            requiredIf: {field: database.size, equals: large}
  fulfillment:
    actions:
      - id: ticket
        type: jira-ticket
        description: Open a ticket for the sink team
        config:
          project: OPS
          summary: "Sink {{.current.app_name}}"
        outputs: [ticket_key]
"""

#: A document that does not load: the sync reports it.
BROKEN = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: broken
  name: Broken
  category: testing
spec:
  form:
    fields:
      - id: x
        type: nonsense
  fulfillment:
    actions:
      - {id: a, type: jira-ticket}
"""

#: Conditions other than `equals`, on a document served from the database.
CONDITIONS = """\
apiVersion: loom/v1
kind: CatalogItem
metadata:
  id: conditions
  name: Conditions
  category: testing
spec:
  form:
    fields:
      - {id: env, type: enum, options: [dev, prod], default: prod}
      - {id: ha, type: boolean, title: Standby, visibleIf: {field: env, notEquals: dev}}
      - {id: size, type: enum, options: [s, l], default: s}
      - {id: reason, type: text, visibleIf: {field: size, in: [l]}}
      - {id: note, type: string, visibleIf: {field: reason, isSet: true}}
  fulfillment:
    actions:
      - {id: a, type: jira-ticket, config: {project: OPS, summary: conditions}}
"""

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"

#: A valid submission of the kitchen sink's form.
GOOD = {
    "input.app_name": "my-app",
    "input.notes": "hello",
    "input.replicas": "3",
    "input.ratio": "0.5",
    "input.tier": "gold",
    "input.regions": ["eu", "us"],
    "input.contact": "dev@example.com",
    "input.homepage": "https://example.com",
    "input.expires_on": "2031-05-01",
    "input.api_key": "hunter2-hunter2",
    "input.database.size": "small",
}


# --- a small HTML reader ----------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.content: list[Node | str] = []

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.content]
        return " ".join("".join(parts).split())

    def has(self, name: str) -> bool:
        return name in self.attrs

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def all(self) -> list[Node]:
        found = []
        for child in self.children:
            found.append(child)
            found.extend(child.all())
        return found

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n
            for n in self.all()
            if (tag is None or n.tag == tag)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def by_id(self, ident: str) -> Node:
        found = [n for n in self.all() if n.attrs.get("id") == ident]
        assert len(found) == 1, f"{len(found)} elements with id {ident!r}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.current.content.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.content.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    return write_catalog(
        tmp_path / "catalog-repo",
        {
            "catalog/databases/postgres.yaml": POSTGRES,
            "catalog/kubernetes/namespace.yaml": NAMESPACE,
            "catalog/testing/sink.yaml": SINK,
            "bundles/web-service.yaml": BUNDLE,
            "CODEOWNERS": CODEOWNERS,
        },
    )


@pytest.fixture
def settings(database_url: str, catalog_dir: Path, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        catalog={"source": str(catalog_dir), "cache_dir": str(tmp_path / "cache")},
    )


@pytest.fixture
async def synced(app: FastAPI) -> FastAPI:
    record = await sync(app.state.runtime, trigger="test")
    assert record.status == "ok", record.problems
    return app


@pytest.fixture
async def portal(synced: FastAPI, signed_in: httpx.AsyncClient) -> httpx.AsyncClient:
    """Signed in as the organisation's admin, with the catalog synced."""
    return signed_in


async def post_form(
    client: httpx.AsyncClient, entry_id: str, values: dict[str, Any]
) -> httpx.Response:
    token = csrf_of(await client.get(f"/ui/catalog/{entry_id}"))
    return await client.post(
        f"/ui/catalog/{entry_id}/preview", data={"csrf_token": token, **values}
    )


def condition(node: Node, attr: str) -> dict[str, Any]:
    """A condition from a data attribute, without the keys it does not give."""
    value = json.loads(node.get(attr) or "")
    assert isinstance(value, dict)
    return {k: v for k, v in value.items() if v is not None}


def cards(page: httpx.Response) -> list[str]:
    return [
        n.attrs["data-entry"] or ""
        for n in parse(page.text).find_all("article")
        if n.has("data-entry")
    ]


# --- the catalog page ---------------------------------------------------------------------


async def test_catalog_page_lists_every_entry_as_a_card(portal: httpx.AsyncClient) -> None:
    page = await portal.get("/ui/catalog")
    assert page.status_code == 200
    # By name: Kitchen sink, Kubernetes namespace, New web service, PostgreSQL database.
    assert cards(page) == ["kitchen-sink", "namespace", "web-service", "postgres"]
    doc = parse(page.text)
    sink = next(n for n in doc.find_all("article") if n.get("data-entry") == "kitchen-sink")
    assert "Kitchen sink" in sink.text
    assert "Every kind of field a form can have." in sink.text
    assert "testing" in sink.text and "payments" in sink.text and "v3.1.4" in sink.text
    assert [t.text for t in sink.find_all("a", **{"class": "tag"})] == ["demo", "everything"]
    bundle = next(n for n in doc.find_all("article") if n.get("data-entry") == "web-service")
    assert "bundle" in bundle.text
    postgres = next(n for n in doc.find_all("article") if n.get("data-entry") == "postgres")
    assert "data" in postgres.text  # owner from CODEOWNERS
    assert "4 entries" in page.text
    assert '<a href="/ui/catalog" aria-current="page">' in page.text
    assert "coming soon" not in page.text


async def test_filters_are_built_from_the_served_entries(portal: httpx.AsyncClient) -> None:
    doc = parse((await portal.get("/ui/catalog")).text)
    options = {
        name: [o.get("value") for o in doc.by_id(f"catalog-{name}").find_all("option")]
        for name in ("category", "owner", "kind")
    }
    assert options["category"] == ["", "bundles", "databases", "kubernetes", "testing"]
    assert options["owner"] == ["", "data", "payments", "platform"]
    assert options["kind"] == ["", "item", "bundle"]
    form = doc.by_id("catalog-filters")
    assert form.get("method") == "get" and form.get("action") == "/ui/catalog"
    assert form.get("hx-get") == "/ui/fragments/catalog"
    assert "delay:300ms" in (form.get("hx-trigger") or "")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"category": "databases"}, ["postgres"]),
        ({"category": "DATABASES"}, ["postgres"]),
        ({"owner": "payments"}, ["kitchen-sink", "namespace"]),
        ({"kind": "bundle"}, ["web-service"]),
        ({"kind": "item", "owner": "payments"}, ["kitchen-sink", "namespace"]),
        ({"q": "kubernetes"}, ["namespace"]),
        ({"q": "managed postgresql"}, ["postgres"]),
        ({"tag": "everything"}, ["kitchen-sink"]),
        ({"kind": "nonsense"}, ["kitchen-sink", "namespace", "web-service", "postgres"]),
    ],
)
async def test_filters_and_search_narrow_the_cards(
    portal: httpx.AsyncClient, query: dict[str, str], expected: list[str]
) -> None:
    page = await portal.get("/ui/catalog", params=query)
    assert page.status_code == 200
    assert sorted(cards(page)) == sorted(expected)
    if "kind" in query and query["kind"] != "nonsense":
        assert f'<option value="{query["kind"]}" selected>' in page.text


async def test_filters_keep_their_values_in_the_form(portal: httpx.AsyncClient) -> None:
    page = await portal.get("/ui/catalog", params={"q": "sink", "owner": "payments"})
    doc = parse(page.text)
    assert doc.by_id("catalog-q").get("value") == "sink"
    selected = [
        o.get("value") for o in doc.by_id("catalog-owner").find_all("option") if o.has("selected")
    ]
    assert selected == ["payments"]
    assert "1 of 4 entries match" in page.text
    assert 'href="/ui/catalog">clear filters' in page.text


async def test_nothing_matching_shows_an_empty_state(portal: httpx.AsyncClient) -> None:
    page = await portal.get("/ui/catalog", params={"q": "no-such-thing-anywhere"})
    assert page.status_code == 200
    assert cards(page) == []
    assert "Nothing matches these filters." in parse(page.text).by_id("catalog-empty").text


async def test_an_unsynced_catalog_says_so(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/ui/catalog")
    assert page.status_code == 200
    assert "The catalog is empty." in page.text
    assert "has not been synced yet" in page.text


async def test_the_results_fragment_serves_htmx(portal: httpx.AsyncClient) -> None:
    response = await portal.get(
        "/ui/fragments/catalog",
        params={"q": "postgresql"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://loom.test/ui/catalog"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="catalog-results"')
    assert "<html" not in response.text
    assert cards(response) == ["postgres"]
    assert response.headers["hx-push-url"] == "/ui/catalog?q=postgresql"


async def test_sync_status_shows_the_last_sync(portal: httpx.AsyncClient) -> None:
    sync_line = parse((await portal.get("/ui/catalog")).text).by_id("catalog-sync")
    assert "sync ok" in sync_line.text
    assert "Last sync" in sync_line.text
    assert "3 items, 1 bundle" in sync_line.text
    assert "0 problems" in sync_line.text


async def test_sync_problems_are_listed_for_admins_only(
    app: FastAPI, catalog_dir: Path, client: httpx.AsyncClient
) -> None:
    write_catalog(catalog_dir, {"catalog/testing/broken.yaml": BROKEN})
    record = await sync(app.state.runtime, trigger="test")
    assert record.status == "partial"
    async with app.state.runtime.sessions() as s, s.begin():
        org_id = await s.scalar(select(User.org_id).where(User.email == ADMIN_EMAIL))
        assert org_id is not None
        s.add(
            User(
                org_id=org_id,
                email="dev@loom.test",
                name="Dev",
                password_hash=hash_password("dev-password-1"),
            )
        )

    await sign_in(client)
    admin_view = parse((await client.get("/ui/catalog")).text).by_id("catalog-sync")
    assert "sync partial" in admin_view.text
    assert "1 problem" in admin_view.text
    assert "catalog/testing/broken.yaml" in admin_view.text

    client.cookies.clear()
    await sign_in(client, email="dev@loom.test", password="dev-password-1")
    page = await client.get("/ui/catalog")
    assert page.status_code == 200
    dev_view = parse(page.text).by_id("catalog-sync")
    assert "1 problem" in dev_view.text
    assert "broken.yaml" not in page.text
    assert len(cards(page)) == 4  # every member sees the whole catalog


async def test_stale_entries_carry_a_badge(
    app: FastAPI, catalog_dir: Path, portal: httpx.AsyncClient
) -> None:
    write_catalog(catalog_dir, {"catalog/databases/postgres.yaml": POSTGRES + "  extra: 1\n"})
    record = await sync(app.state.runtime, trigger="test")
    assert record.status == "partial"
    doc = parse((await portal.get("/ui/catalog")).text)
    postgres = next(n for n in doc.find_all("article") if n.get("data-entry") == "postgres")
    assert "stale" in postgres.text
    sink = next(n for n in doc.find_all("article") if n.get("data-entry") == "kitchen-sink")
    assert "stale" not in sink.text
    item = await portal.get("/ui/catalog/postgres")
    assert item.status_code == 200
    assert parse(item.text).by_id("stale-badge").text == "stale"


# --- an item's page -----------------------------------------------------------------------


async def test_item_page_shows_its_metadata(portal: httpx.AsyncClient) -> None:
    page = await portal.get("/ui/catalog/kitchen-sink")
    assert page.status_code == 200
    doc = parse(page.text)
    assert doc.find_all("h1")[0].text.startswith("Kitchen sink")
    assert "Every kind of field a form can have." in page.text
    assert doc.by_id("entry-owner").text == "payments"
    assert doc.by_id("entry-version").text == "3.1.4"
    assert doc.by_id("entry-category").text == "testing"
    links = doc.by_id("entry-links").find_all("a")
    assert [(a.text, a.get("href")) for a in links] == [
        ("Sink runbook", "https://runbooks.example/sink")
    ]
    custom = doc.by_id("entry-custom")
    assert [n.text for n in custom.find_all("dt")] == ["tier", "limits"]
    assert [n.text for n in custom.find_all("dd")] == ["gold", '{"cpu": 2}']
    assert "Open a ticket for the sink team" in doc.by_id("entry-actions").text
    assert "catalog/testing/sink.yaml" in page.text
    assert '<a href="/ui/catalog" aria-current="page">' in page.text


async def test_item_page_renders_every_field_type(portal: httpx.AsyncClient) -> None:
    page = await portal.get("/ui/catalog/kitchen-sink")
    doc = parse(page.text)
    form = doc.by_id("catalog-form")
    assert form.get("method") == "post"
    assert form.get("action") == "/ui/catalog/kitchen-sink/request"
    assert form.has("novalidate")
    assert csrf_of(page)

    name = doc.by_id("in-app_name")
    assert (name.tag, name.get("type"), name.get("name")) == ("input", "text", "input.app_name")
    assert name.has("required")
    assert name.get("minlength") == "3" and name.get("maxlength") == "20"
    assert name.get("data-pattern") == "[a-z][a-z0-9-]*"
    assert name.get("placeholder") == "my-app"
    assert name.get("aria-describedby") == "in-app_name-help"
    assert doc.by_id("in-app_name-help").text == "Lowercase letters, digits and dashes."
    assert doc.find_all("label", **{"for": "in-app_name"})[0].text == "App name*"

    notes = doc.by_id("in-notes")
    assert notes.tag == "textarea" and notes.get("maxlength") == "500"
    assert not notes.has("required")

    replicas = doc.by_id("in-replicas")
    assert replicas.get("type") == "number"
    assert (replicas.get("min"), replicas.get("max"), replicas.get("step")) == ("1", "10", "1")
    assert replicas.get("value") == "2"
    ratio = doc.by_id("in-ratio")
    assert (ratio.get("min"), ratio.get("max"), ratio.get("step")) == ("0", "1", "any")

    public = doc.by_id("in-public")
    assert public.get("type") == "checkbox" and public.get("value") == "true"
    assert not public.has("checked")

    tier = doc.by_id("in-tier")
    assert tier.tag == "select"
    assert [(o.get("value"), o.text, o.has("selected")) for o in tier.find_all("option")] == [
        ("", "—", False),
        ("bronze", "Bronze", True),
        ("gold", "Gold", False),
    ]

    regions = doc.by_id("in-regions")
    assert regions.tag == "fieldset"
    boxes = regions.find_all("input")
    assert [(b.get("type"), b.get("name"), b.get("value"), b.has("checked")) for b in boxes] == [
        ("checkbox", "input.regions", "eu", True),
        ("checkbox", "input.regions", "us", False),
        ("checkbox", "input.regions", "ap", False),
    ]
    assert "Choose at most 2." in doc.by_id("in-regions-help").text

    assert doc.by_id("in-contact").get("type") == "email"
    assert doc.by_id("in-contact").has("required")
    assert doc.by_id("in-homepage").get("type") == "url"
    assert doc.by_id("in-expires_on").get("type") == "date"
    secret = doc.by_id("in-api_key")
    assert (secret.get("type"), secret.get("autocomplete"), secret.get("value")) == (
        "password",
        "off",
        "",
    )
    assert secret.get("minlength") == "8"

    group = doc.by_id("field-in-database")
    assert group.tag == "fieldset" and group.find_all("legend")[0].text == "Database"
    assert doc.by_id("in-database-size").get("name") == "input.database.size"
    assert doc.by_id("field-in-database-size").parent is group


async def test_conditions_travel_as_json_and_start_from_the_servers_answer(
    portal: httpx.AsyncClient,
) -> None:
    page = await portal.get("/ui/catalog/kitchen-sink")
    doc = parse(page.text)
    hostname = doc.by_id("field-in-hostname")
    assert condition(hostname, "data-visible-if") == {"field": "public", "equals": True}
    assert condition(hostname, "data-required-if") == {
        "field": "public",
        "equals": True,
    }
    assert hostname.has("hidden")  # public defaults to false
    group = doc.by_id("field-in-database")
    assert condition(group, "data-visible-if") == {"field": "tier", "equals": "gold"}
    assert group.has("hidden")
    assert not doc.by_id("field-in-app_name").has("hidden")
    justification = doc.by_id("field-in-database-justification")
    assert condition(justification, "data-required-if") == {
        "field": "database.size",
        "equals": "large",
    }
    assert not doc.by_id("in-database-justification").has("required")
    tier = doc.by_id("field-in-tier")
    assert json.loads(tier.get("data-options") or "") == [["bronze", "bronze"], ["gold", "gold"]]
    assert json.loads(tier.get("data-default") or "") == "bronze"
    assert json.loads(doc.by_id("field-in-regions").get("data-default") or "") == ["eu"]
    # The script that mirrors them is a static file (the CSP allows no inline script).
    assert '<script src="/static/catalog.js" defer></script>' in page.text
    assert "<script>" not in page.text
    assert (await portal.get("/static/catalog.js")).status_code == 200
    assert (await portal.get("/static/catalog.css")).status_code == 200
    assert (await portal.get("/static/catalog-noscript.css")).status_code == 200


async def test_bundle_page_shows_components_and_its_shared_form(
    portal: httpx.AsyncClient,
) -> None:
    page = await portal.get("/ui/catalog/web-service")
    assert page.status_code == 200
    doc = parse(page.text)
    rows = doc.by_id("components").find_all("tr", **{"data-component": "db"})
    assert len(rows) == 1
    assert rows[0].find_all("a")[0].get("href") == "/ui/catalog/postgres"
    assert "PostgreSQL database" in rows[0].text and "ns" in rows[0].text
    assert doc.by_id("in-name").has("required")
    assert doc.by_id("catalog-form").get("action") == "/ui/catalog/web-service/request"
    item = parse((await portal.get("/ui/catalog/postgres")).text)
    assert "New web service" in item.by_id("entry-bundles").text


# --- posting the form ---------------------------------------------------------------------


async def test_bad_input_shows_each_error_next_to_its_field(portal: httpx.AsyncClient) -> None:
    values = {
        **GOOD,
        "input.app_name": "Bad Name!",
        "input.replicas": "42",
        "input.contact": "not-an-email",
        "input.tier": "gold",
        "input.database.size": "large",
    }
    response = await post_form(portal, "kitchen-sink", values)
    assert response.status_code == 422
    doc = parse(response.text)

    name = doc.by_id("in-app_name")
    assert name.get("aria-invalid") == "true"
    assert name.get("aria-describedby") == "in-app_name-help in-app_name-error"
    error = doc.by_id("in-app_name-error")
    assert error.text == "must match the pattern [a-z][a-z0-9-]*"
    assert error.parent is doc.by_id("field-in-app_name")
    assert name.get("value") == "Bad Name!"  # kept as typed

    assert doc.by_id("in-replicas-error").text == "must be at most 10"
    assert doc.by_id("in-replicas").get("value") == "42"
    assert doc.by_id("in-contact-error").text == "must be an email address"
    # requiredIf inside a visible group
    assert doc.by_id("in-database-justification-error").text == "is required"
    assert doc.by_id("in-database-justification").has("required")
    assert not doc.by_id("field-in-database").has("hidden")
    # Fields without a problem are not marked.
    assert not doc.by_id("in-notes").has("aria-invalid")
    assert doc.by_id("in-notes").text == "hello"

    summary = doc.by_id("form-errors")
    assert summary.get("role") == "alert"
    assert "4 problems to fix" in summary.text
    anchors = [a.get("href") for a in summary.find_all("a")]
    assert anchors == [
        "#in-app_name",
        "#in-replicas",
        "#in-contact",
        "#in-database-justification",
    ]
    assert "App name: must match the pattern" in summary.text
    assert "Database / Justification: is required" in summary.text
    assert 'data-ok="true"' not in response.text


async def test_posted_choices_are_kept(portal: httpx.AsyncClient) -> None:
    values = {**GOOD, "input.app_name": "", "input.public": "true", "input.regions": ["us", "ap"]}
    response = await post_form(portal, "kitchen-sink", values)
    assert response.status_code == 422
    doc = parse(response.text)
    assert doc.by_id("in-app_name-error").text == "is required"
    assert doc.by_id("in-public").has("checked")
    # public is ticked: the hostname shows and is required
    assert not doc.by_id("field-in-hostname").has("hidden")
    assert doc.by_id("in-hostname-error").text == "is required"
    checked = [
        b.get("value") for b in doc.by_id("in-regions").find_all("input") if b.has("checked")
    ]
    assert checked == ["us", "ap"]
    selected = [
        o.get("value") for o in doc.by_id("in-tier").find_all("option") if o.has("selected")
    ]
    assert selected == ["gold"]
    assert doc.by_id("in-expires_on").get("value") == "2031-05-01"


async def test_secret_values_are_never_echoed(portal: httpx.AsyncClient) -> None:
    secret = "s3cret-value-never-shown"
    bad = await post_form(
        portal, "kitchen-sink", {**GOOD, "input.app_name": "", "input.api_key": secret}
    )
    assert bad.status_code == 422
    assert secret not in bad.text
    assert parse(bad.text).by_id("in-api_key").get("value") == ""

    too_short = await post_form(portal, "kitchen-sink", {**GOOD, "input.api_key": "short"})
    assert too_short.status_code == 422
    assert parse(too_short.text).by_id("in-api_key").get("value") == ""
    assert (
        parse(too_short.text).by_id("in-api_key-error").text == "must have at least 8 character(s)"
    )

    good = await post_form(portal, "kitchen-sink", {**GOOD, "input.api_key": secret})
    assert good.status_code == 200
    assert secret not in good.text
    panel = parse(good.text).by_id("plan-panel")
    row = panel.find_all("tr", **{"data-path": "api_key"})[0]
    assert [c.text for c in row.children] == ["API key", "••••"]


async def test_valid_input_shows_the_ready_panel(portal: httpx.AsyncClient) -> None:
    response = await post_form(portal, "kitchen-sink", GOOD)
    assert response.status_code == 200, response.text
    doc = parse(response.text)
    panel = doc.by_id("plan-panel")
    assert "Every value passed the checks" in panel.text
    assert "nothing has been stored or sent yet" in panel.text
    rows = {
        r.get("data-path"): r.find_all("td")[0].text
        for r in doc.by_id("plan-values").find_all("tr")
    }
    assert rows == {
        "app_name": "my-app",
        "notes": "hello",
        "replicas": "3",
        "ratio": "0.5",
        "public": "no",
        "tier": "Gold",
        "regions": "eu, us",
        "contact": "dev@example.com",
        "homepage": "https://example.com",
        "expires_on": "2031-05-01",
        "api_key": "••••",
        "database.size": "small",
    }
    assert "form-errors" not in response.text
    # The form stays, with the values, for another look.
    assert doc.by_id("in-app_name").get("value") == "my-app"


async def test_values_of_hidden_fields_are_dropped(portal: httpx.AsyncClient) -> None:
    values = {**GOOD, "input.tier": "bronze", "input.hostname": "ignored.example.com"}
    response = await post_form(portal, "kitchen-sink", values)
    assert response.status_code == 200
    panel = parse(response.text).by_id("plan-panel")
    paths = {r.get("data-path") for r in panel.find_all("tr")}
    assert "hostname" not in paths and "database.size" not in paths
    assert parse(response.text).by_id("field-in-database").has("hidden")


async def test_the_form_needs_its_csrf_token(portal: httpx.AsyncClient) -> None:
    response = await portal.post("/ui/catalog/kitchen-sink/preview", data=GOOD)
    assert response.status_code == 403
    assert "This form has expired" in response.text


async def test_bundle_form_is_checked_too(portal: httpx.AsyncClient) -> None:
    bad = await post_form(portal, "web-service", {"input.name": ""})
    assert bad.status_code == 422
    assert parse(bad.text).by_id("in-name-error").text == "is required"
    good = await post_form(portal, "web-service", {"input.name": "shop"})
    assert good.status_code == 200
    assert 'data-ok="true"' in good.text


async def test_conditions_beyond_equals_hold_on_served_documents(
    app: FastAPI, catalog_dir: Path, portal: httpx.AsyncClient
) -> None:
    write_catalog(catalog_dir, {"catalog/testing/conditions.yaml": CONDITIONS})
    assert (await sync(app.state.runtime, trigger="test")).status == "ok"
    doc = parse((await portal.get("/ui/catalog/conditions")).text)
    assert not doc.by_id("field-in-ha").has("hidden")  # prod is not dev
    assert doc.by_id("field-in-reason").has("hidden")
    values = {"input.env": "prod", "input.ha": "true", "input.size": "l", "input.reason": "r"}
    response = await post_form(portal, "conditions", {**values, "input.note": "n"})
    assert response.status_code == 200
    rows = {r.get("data-path") for r in parse(response.text).by_id("plan-panel").find_all("tr")}
    assert rows == {"env", "ha", "size", "reason", "note"}


# --- what is not there, who may look ------------------------------------------------------


async def test_unknown_entry_is_a_404_page(portal: httpx.AsyncClient) -> None:
    token = csrf_of(await portal.get("/ui/catalog"))
    for response in (
        await portal.get("/ui/catalog/no-such-item"),
        await portal.post("/ui/catalog/no-such-item/preview", data={"csrf_token": token}),
    ):
        assert response.status_code == 404, response.request.method
        assert response.headers["content-type"].startswith("text/html")
        assert "404 · Not Found" in response.text
        assert "no catalog item or bundle &#39;no-such-item&#39;" in response.text


@pytest.mark.parametrize(
    "path", ["/ui/catalog", "/ui/catalog/kitchen-sink", "/ui/fragments/catalog?q=x"]
)
async def test_anonymous_visitors_go_to_login(
    synced: FastAPI, client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=%2Fui%2F")


async def test_anonymous_post_goes_to_login(synced: FastAPI, client: httpx.AsyncClient) -> None:
    token = csrf_of(await client.get("/ui/login"))
    response = await client.post("/ui/catalog/kitchen-sink/preview", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login")


async def test_text_from_documents_is_escaped(
    app: FastAPI, catalog_dir: Path, portal: httpx.AsyncClient
) -> None:
    evil = SINK.replace(
        "description: Every kind of field a form can have.",
        'description: "<script>alert(1)</script>"',
    ).replace("title: App name", 'title: "<img src=x onerror=alert(1)>"')
    write_catalog(catalog_dir, {"catalog/testing/sink.yaml": evil})
    await sync(app.state.runtime, trigger="test")
    for path in ("/ui/catalog", "/ui/catalog/kitchen-sink"):
        page = await portal.get(path)
        assert "<script>alert(1)</script>" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
    assert "<img src=x" not in (await portal.get("/ui/catalog/kitchen-sink")).text


# --- the sample catalog -------------------------------------------------------------------


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/catalog is not in this checkout")
async def test_every_sample_entry_renders_with_its_form(database_url: str, tmp_path: Path) -> None:
    from loom.app import create_app

    # The demo organisation: the sample's services are owned by the demo's teams.
    settings = make_settings(
        database_url,
        demo_data=True,
        catalog={"source": str(EXAMPLES), "cache_dir": str(tmp_path / "cache")},
    )
    application = create_app(settings, background=False)
    async with application.router.lifespan_context(application):
        record = await sync(application.state.runtime, trigger="test")
        assert record.status == "ok", record.problems
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://loom.test") as c:
            assert (await sign_in(c)).status_code == 303
            index = await c.get("/ui/catalog")
            assert index.status_code == 200
            ids = cards(index)
            assert len(ids) == record.items + record.bundles
            assert record.items >= 8 and record.bundles >= 2
            for entry_id in ids:
                page = await c.get(f"/ui/catalog/{entry_id}")
                assert page.status_code == 200, entry_id
                doc = parse(page.text)
                form = doc.by_id("catalog-form")
                assert form.get("action") == f"/ui/catalog/{entry_id}/request"
                fields = [n for n in form.all() if n.has("data-field")]
                assert fields, f"{entry_id}: no field rendered"
                # Every condition in the page is JSON the script can read.
                for node in doc.all():
                    for attr in ("data-visible-if", "data-required-if", "data-options"):
                        if node.has(attr):
                            json.loads(node.get(attr) or "")
                # An empty post: the server answers with the form (errors or ready).
                empty = await c.post(
                    f"/ui/catalog/{entry_id}/preview", data={"csrf_token": csrf_of(page)}
                )
                assert empty.status_code in (200, 422), entry_id
                assert re.search(r'id="catalog-form"', empty.text), entry_id
