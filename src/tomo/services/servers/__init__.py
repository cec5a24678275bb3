"""Servers: registration, SSH, preparation, system info."""
