"""HTTP plumbing shared by every router: errors, correlation ids, pagination,
idempotency keys and the authentication dependencies."""
