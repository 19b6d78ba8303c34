"""In a real browser: find an item in the catalog, open it, send its form with a bad value
and see the server's message next to that field; conditions show and hide fields as the
controlling field changes; a valid form's preview shows what would be requested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from loom.settings import Settings
from tests.catalog.conftest import BUNDLE, CODEOWNERS, NAMESPACE, POSTGRES, write_catalog
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, LiveServer, make_settings
from tests.e2e.conftest import Console
from tests.web.test_catalog_pages import SINK

pytestmark = [pytest.mark.sqlite_only, pytest.mark.e2e]

#: Screenshots land here when LOOM_SCREENSHOTS names a directory (else in tmp_path).
SCREENSHOTS_ENV = "LOOM_SCREENSHOTS"


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog"


@pytest.fixture
def catalog_source(tmp_path: Path) -> Path:
    """The catalog the server serves (a test may parametrize another)."""
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
def demo_data() -> bool:
    """Whether the server seeds the demo organisation (a test may parametrize it)."""
    return False


@pytest.fixture
def settings(database_url: str, catalog_source: Path, demo_data: bool, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        demo_data=demo_data,
        catalog={"source": str(catalog_source), "cache_dir": str(tmp_path / "cache")},
    )


@pytest.fixture
def catalog_server(live_server: LiveServer) -> Iterator[LiveServer]:
    """The live server with its catalog synced (through the API, as an admin would)."""
    with httpx.Client(base_url=live_server.url, timeout=30) as api:
        login = api.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        refresh = api.post("/api/v1/catalog/refresh")
        assert refresh.status_code == 200, refresh.text
        assert refresh.json()["status"] == "ok", refresh.json()
    yield live_server


def shots(tmp_path: Path) -> Path:
    import os

    target = os.environ.get(SCREENSHOTS_ENV)
    return Path(target) if target else tmp_path


def _sign_in(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}{path}")


def test_catalog_search_and_a_bad_value_shows_the_fields_error(
    catalog_server: LiveServer, page: Page, console: Console, tmp_path: Path
) -> None:
    base = catalog_server.url
    _sign_in(page, base, "/ui/catalog")
    expect(page.locator("article[data-entry]")).to_have_count(4)

    # Typing narrows the cards without a page load (htmx), and the address follows.
    with page.expect_response("**/ui/fragments/catalog?*"):
        page.get_by_label("Search the catalog").fill("sink")
    expect(page.locator("article[data-entry]")).to_have_count(1)
    expect(page).to_have_url(f"{base}/ui/catalog?q=sink")
    page.get_by_label("Search the catalog").fill("")
    expect(page.locator("article[data-entry]")).to_have_count(4)
    page.screenshot(path=shots(tmp_path) / "catalog.png", full_page=True)

    page.get_by_role("link", name="Kitchen sink").click()
    expect(page).to_have_url(f"{base}/ui/catalog/kitchen-sink")
    expect(page.get_by_role("heading", name="Kitchen sink")).to_be_visible()

    name = page.locator("#in-app_name")
    name.fill("Not A Valid Name!")
    page.get_by_label("Contact").fill("dev@example.com")
    page.get_by_role("button", name="Preview").click()

    expect(page).to_have_url(f"{base}/ui/catalog/kitchen-sink")
    error = page.locator("#field-in-app_name .field-error")
    expect(error).to_have_text("must match the pattern [a-z][a-z0-9-]*")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_value("Not A Valid Name!")
    expect(page.locator("#form-errors")).to_contain_text("App name: must match the pattern")
    expect(page.locator("#plan-panel[data-ok]")).to_have_count(0)
    page.screenshot(path=shots(tmp_path) / "item-errors.png", full_page=True)

    # Fixed: the server is content, and shows what would be requested; the messages of
    # the refusal are gone, and the typed secret stays in the form (only the panel changed).
    page.locator("#in-app_name").fill("my-app")
    page.get_by_label("API key").fill("a-long-enough-secret")
    page.get_by_role("button", name="Preview").click()
    panel = page.locator("#plan-panel[data-ok]")
    expect(panel).to_contain_text("Every value passed the checks")
    expect(panel.locator('tr[data-path="api_key"] td')).to_have_text("••••")
    expect(panel.locator("li[data-task]")).to_have_count(1)
    expect(page.locator("#in-api_key")).to_have_value("a-long-enough-secret")
    expect(page.locator("#form-errors")).to_have_count(0)
    expect(page.locator("#catalog-form .field-error")).to_have_count(0)
    page.screenshot(path=shots(tmp_path) / "item-ready.png", full_page=True)
    # Only the 422 of the refused preview may complain.
    assert all("422" in e for e in console.errors), console.errors


def test_conditions_show_and_hide_fields_as_people_choose(
    catalog_server: LiveServer, page: Page, console: Console
) -> None:
    base = catalog_server.url
    _sign_in(page, base, "/ui/catalog/kitchen-sink")

    hostname = page.locator("#field-in-hostname")
    expect(hostname).to_be_hidden()
    page.get_by_role("switch", name="Public").check()
    expect(hostname).to_be_visible()
    expect(page.locator("#in-hostname")).to_have_attribute("required", "")
    expect(hostname.locator(".required-mark")).to_be_visible()
    page.get_by_role("switch", name="Public").uncheck()
    expect(hostname).to_be_hidden()

    # A whole group follows its condition, and a requiredIf inside it.
    group = page.locator("#field-in-database")
    expect(group).to_be_hidden()
    page.get_by_label("Tier").select_option("gold")
    expect(group).to_be_visible()
    justification = page.locator("#in-database-justification")
    expect(justification).not_to_have_attribute("required", "")
    page.get_by_label("Size").select_option("large")
    expect(justification).to_have_attribute("required", "")
    page.get_by_label("Tier").select_option("bronze")
    expect(group).to_be_hidden()

    # The browser's own hint appears next to a field as soon as it is left wrong.
    page.locator("#in-app_name").fill("NO")
    page.locator("#in-app_name").blur()
    expect(page.locator("#in-app_name-error")).to_be_visible()
    expect(page.locator("#in-app_name")).to_have_attribute("aria-invalid", "true")
    page.locator("#in-app_name").fill("good-name")
    page.locator("#in-app_name").blur()
    expect(page.locator("#in-app_name-error")).to_have_count(0)
    assert console.errors == []


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/catalog is not in this checkout")
# The demo organisation: the sample's services are owned by the demo's teams.
@pytest.mark.parametrize(("catalog_source", "demo_data"), [(EXAMPLES, True)], ids=["examples"])
def test_every_sample_page_runs_its_script_cleanly(
    catalog_server: LiveServer, page: Page, console: Console
) -> None:
    base = catalog_server.url
    _sign_in(page, base, "/ui/catalog")
    cards = page.locator("article[data-entry]")
    expect(cards.first).to_be_visible()
    ids = [c.get_attribute("data-entry") or "" for c in cards.all()]
    assert len(ids) >= 10
    for entry_id in ids:
        page.goto(f"{base}/ui/catalog/{entry_id}")
        expect(page.locator("#catalog-form")).to_be_visible()
        expect(page.locator("#catalog-form [data-field]").first).to_be_attached()
    # No script error and no pattern the browser refused, on any sample form.
    assert console.errors == []
