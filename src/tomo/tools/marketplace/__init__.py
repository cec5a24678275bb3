"""marketplace tools."""
