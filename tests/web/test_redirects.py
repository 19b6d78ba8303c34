"""Only local paths are followed after login; everything else falls back to home."""

from __future__ import annotations

import pytest

from loom.web.redirects import HOME, login_url, safe_next


@pytest.mark.parametrize(
    "target",
    ["/ui", "/ui/catalog", "/ui/services?team=a&env=prod", "/docs", "/ui/x#part"],
)
def test_local_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/ui",
        "http://evil.example",
        "//evil.example/ui",
        "/\\evil.example",
        "/ui\\..\\//evil.example",
        "javascript:alert(1)",
        "ui/relative",
        "/ui/\nSet-Cookie: x=1",
        "/ui/login",
        "/ui/login/",
    ],
)
def test_anything_else_falls_back_to_home(target: str | None) -> None:
    assert safe_next(target) == HOME


def test_login_url_remembers_the_page() -> None:
    assert login_url("/ui/catalog?q=db") == "/ui/login?next=%2Fui%2Fcatalog%3Fq%3Ddb"


def test_login_url_drops_home_and_foreign_targets() -> None:
    assert login_url("/ui") == "/ui/login"
    assert login_url("https://evil.example") == "/ui/login"
    assert login_url(None) == "/ui/login"
