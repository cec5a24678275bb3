"""The audit trail and the stored event log."""
