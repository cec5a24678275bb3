"""Repositories: the only code that writes SQL."""
