"""Metrics arithmetic shared by the monitoring service and its history (no I/O)."""
