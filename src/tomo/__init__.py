"""Tomo: run a homelab from an AI assistant (an MCP server)."""

__version__ = "0.1.0"
