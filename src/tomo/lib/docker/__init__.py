"""Docker and Docker Compose over SSH: argv builders and JSON output parsers (no I/O here)."""
