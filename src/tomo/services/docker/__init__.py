"""Raw Docker on a registered server."""
