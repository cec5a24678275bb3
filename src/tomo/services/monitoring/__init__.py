"""Monitoring: samples of every server over SSH, their history with rollups, and the reads of it."""
