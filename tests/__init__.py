"""Tests mirror the package layout; `tests.servers` holds the real-server fixtures."""
