"""The portal: server-rendered pages (Jinja2 + htmx), one module of pages per domain."""

from __future__ import annotations

from fastapi import FastAPI


def install_portal(app: FastAPI) -> None:
    """Mount static files and the portal's pages on the app."""
