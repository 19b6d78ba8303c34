"""Endpoint health checks of the service registry: HTTP(S) probes of a service's
endpoints (`probe`), run on schedule by the leased scheduler (`scheduler`, `runner`),
their results and statuses (`status`), statistics over time windows (`stats`), and the
API (`router`, `service`, `schemas`). Tables are in loom.services.check_models."""
