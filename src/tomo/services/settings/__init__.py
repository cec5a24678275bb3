"""Runtime settings stored in the database."""
