"""Service registry: services, who owns them, and what they depend on."""
