"""Tomo database."""
