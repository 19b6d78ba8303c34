"""The portal's search: the box in every page's header, and the results page grouped by
kind, with snippets escaped but for their highlights."""

from __future__ import annotations

import re

import httpx

from tests.conftest import Tenant
from tests.services.support import register


async def test_every_page_has_the_search_box(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/ui")
    assert page.status_code == 200
    assert re.search(r'<form method="get" action="/ui/search" role="search"', page.text)
    assert 'name="q"' in page.text


async def test_results_are_grouped_by_kind_with_marked_snippets(
    signed_in: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(
        signed_in, tenant.headers["operator-a"], "ledger", name="Ledger",
        description="Keeps the books of every invoice.",
        links=[{"title": "Ledger invoice guide", "url": "https://docs.test/ledger"}],
    )  # fmt: skip
    page = await signed_in.get("/ui/search", params={"q": "invoice"})
    assert page.status_code == 200
    text = page.text
    assert text.index('data-kind="service"') < text.index('data-kind="link"')
    assert '<a href="/ui/services/ledger">Ledger</a>' in text
    assert 'href="https://docs.test/ledger" rel="noopener noreferrer"' in text
    assert "<mark>invoice</mark>" in text
    assert 'value="invoice"' in text  # the box keeps what was typed
    only_links = await signed_in.get("/ui/search", params={"q": "invoice", "kind": "link"})
    assert 'data-kind="service"' not in only_links.text
    assert 'data-kind="link"' in only_links.text


async def test_stored_and_typed_html_is_escaped(
    signed_in: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(
        signed_in, tenant.headers["operator-a"], "evil", name="<img src=x onerror=alert(1)>",
        description='Breaks <script>alert("x")</script> things & "quotes"',
    )  # fmt: skip
    page = await signed_in.get("/ui/search", params={"q": "breaks"})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<mark>Breaks</mark>" in page.text
    typed = await signed_in.get("/ui/search", params={"q": '"><i>x'})
    assert typed.status_code == 200
    assert "<i>x" not in typed.text
    assert "&#34;&gt;&lt;i&gt;x" in typed.text


async def test_the_fragment_answers_htmx_and_follows_in_the_address_bar(
    signed_in: httpx.AsyncClient, tenant: Tenant
) -> None:
    await register(signed_in, tenant.headers["operator-a"], "ledger", description="Books.")
    fragment = await signed_in.get(
        "/ui/fragments/search", params={"q": "boo"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="search-results"')
    assert "/ui/services/ledger" in fragment.text
    assert fragment.headers["HX-Push-Url"] == "/ui/search?q=boo"


async def test_an_empty_or_odd_query_is_a_page_not_an_error(
    signed_in: httpx.AsyncClient,
) -> None:
    for q in ("", "   ", '"', "NEAR(", "*"):
        page = await signed_in.get("/ui/search", params={"q": q, "kind": "nonsense"})
        assert page.status_code == 200, q


async def test_search_needs_a_signed_in_person(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/search", params={"q": "x"})
    assert page.status_code in (302, 303)
    assert "/ui/login" in page.headers["location"]
