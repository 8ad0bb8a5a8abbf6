"""Development tools: generated files, run from the repository (not shipped)."""
