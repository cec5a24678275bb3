"""server tools."""
