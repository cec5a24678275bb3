"""Tomo tools."""
