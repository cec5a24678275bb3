"""auth tools."""
