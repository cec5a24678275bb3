"""settings tools."""
