"""Several Tomo processes on one database: instances, heartbeats, shared-state reloads and the one scheduler."""
