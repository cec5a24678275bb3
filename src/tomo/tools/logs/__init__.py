"""logs tools."""
