"""The store: async engine and sessions, the declarative base, portable types, migrations."""
