"""Loom: self-service provisioning, service registry and incident operations in one service."""

__version__ = "0.1.0"
