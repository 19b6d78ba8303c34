"""Identity and tenancy: organisations, teams, users, roles, API tokens, sessions."""
