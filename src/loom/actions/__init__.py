"""Action types: what a fulfillment task can do (open a JIRA ticket, call a REST API,
commit to GitHub, run a workflow or Terraform). Each type declares its config schema
here; the executors arrive with the provisioning engine."""
