"""The demo that `make serve` runs (LOOM_DEMO_DATA=true): demo data seeded into an empty
database (`seed`), and demo integrations (`fakes/`): local fake JIRA, GitHub and
Terraform servers speaking the real APIs' wire formats, which the tests use too.

Nothing here is for production: the fakes keep their data in memory and forget it when
the process stops."""

from __future__ import annotations

from loom.demo.seed import APPROVER, PEOPLE, TEAMS, DemoSeed, seed

__all__ = ["APPROVER", "PEOPLE", "TEAMS", "DemoSeed", "seed"]
