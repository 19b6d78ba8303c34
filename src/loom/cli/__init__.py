"""The `loom` command: one module per domain, each a thin layer over loom.client (HTTP);
only `serve`, `worker` and `db` act locally."""
