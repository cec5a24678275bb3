"""Tomo models."""
