"""The catalog: platform offerings as versioned YAML documents in git."""
