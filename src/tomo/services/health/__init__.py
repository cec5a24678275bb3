"""Tomo's own health."""
