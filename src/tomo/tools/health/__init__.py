"""health tools."""
