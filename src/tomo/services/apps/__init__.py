"""Installed apps: the facade, install, lifecycle, status, the remote adapter, rendering and checks."""
