"""Long operations as jobs."""
