"""Tomo database."""

from tomo.database import async_core

# First, before any module here imports sqlalchemy.ext.asyncio: its package would import the ORM too (~6 MB).
async_core.load()
