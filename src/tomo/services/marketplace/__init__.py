"""App catalogs: repositories, sync and search."""
