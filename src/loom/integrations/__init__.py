"""Clients of the outside systems fulfillment talks to (JIRA, GitHub, Terraform Cloud),
one module per system, each behind a small protocol so that actions, escalation and the
request page share one way to reach it."""
