"""Shared validation helpers (private; not part of the public API)."""
