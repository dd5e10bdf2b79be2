"""Benchmarks against the targets of docs/architecture.md, on real processes and sockets."""
