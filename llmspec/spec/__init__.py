"""The spec: models (source of truth), loader, positions and JSON Schema."""
