"""Action types: what a fulfillment task can do (open a JIRA ticket, call a REST API,
commit to GitHub, run a workflow or Terraform). `builtin.py` declares each type's config
schema and registers it with its executor (`rest_api.py`, ...); `base.py` is the
protocol every executor implements and `calls.py` the HTTP call they share."""
