"""jobs tools."""
