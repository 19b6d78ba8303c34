"""codeowners: which team owns a path of the catalog repository, with GitHub's rules (the
last matching pattern wins; owners `@org/team` or `@team`)."""

from __future__ import annotations

import pytest

from loom.catalog.codeowners import CodeOwners

OWNERS = CodeOwners(
    """\
# Catalog owners
*                       @acme/platform
/catalog/databases/     @acme/data @acme/dba     # two owners: the first is the team
*.yml                   @yaml-fans
catalog/**/redis.yaml   @acme/Cache
docs/*                  @acme/docs
apps/                   @acme/apps

catalog/orphan.yaml
"""
)


@pytest.mark.parametrize(
    ("path", "team"),
    [
        ("README.md", "platform"),
        ("catalog/kubernetes/namespace.yaml", "platform"),
        ("catalog/databases/postgres.yaml", "data"),
        ("catalog/databases/deep/mysql.yaml", "data"),
        ("catalog/databases/legacy.yml", "yaml-fans"),  # a later rule wins
        ("catalog/caches/redis.yaml", "cache"),
        ("catalog/redis.yaml", "cache"),
        ("catalog/databases/redis.yaml", "cache"),
        ("docs/guide.md", "docs"),
        ("docs/nested/guide.md", "platform"),  # docs/* does not reach into subfolders
        ("apps/web.yaml", "apps"),
        ("catalog/apps/web.yaml", "apps"),  # an unanchored folder matches anywhere
        ("sub/catalog/databases/x.yaml", "platform"),  # /catalog/ is anchored at the root
        ("catalog/orphan.yaml", None),  # a pattern without owners unsets them
    ],
)
def test_team_of(path: str, team: str | None) -> None:
    assert OWNERS.team_of(path) == team


def test_owners_of_lists_every_owner_in_order() -> None:
    assert OWNERS.owners_of("catalog/databases/postgres.yaml") == ("data", "dba")
    assert OWNERS.owners_of("catalog/orphan.yaml") == ()


def test_owner_spelling_gives_the_team_slug() -> None:
    owners = CodeOwners("a @acme/Platform-Team\nb @solo\nc dev@example.com\n")
    assert owners.team_of("a") == "platform-team"
    assert owners.team_of("b") == "solo"
    assert owners.team_of("c") == "dev@example.com"


def test_comments_and_blank_lines_are_ignored() -> None:
    owners = CodeOwners("# * @acme/commented-out\n\n   \n* @acme/real # trailing note\n")
    assert [rule.pattern for rule in owners.rules] == ["*"]
    assert owners.owners_of("x.yaml") == ("real",)


def test_last_match_wins_in_file_order() -> None:
    assert CodeOwners("catalog/ @a\ncatalog/db/ @b\n").team_of("catalog/db/x.yaml") == "b"
    assert CodeOwners("catalog/db/ @b\ncatalog/ @a\n").team_of("catalog/db/x.yaml") == "a"


def test_no_match_and_no_file_mean_no_owner() -> None:
    assert CodeOwners("bundles/ @acme/x\n").team_of("catalog/a.yaml") is None
    assert CodeOwners().team_of("catalog/a.yaml") is None
    assert CodeOwners().owners_of("catalog/a.yaml") == ()
