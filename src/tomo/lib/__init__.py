"""Tomo lib."""
