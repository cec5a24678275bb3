"""docker tools."""
