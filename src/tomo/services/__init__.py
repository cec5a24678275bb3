"""Tomo services."""
