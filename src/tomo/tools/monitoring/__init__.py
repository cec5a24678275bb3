"""Monitoring tools."""
