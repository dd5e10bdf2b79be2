"""Benchmarks against DESIGN section 8, on real processes and sockets (see bench/README.md)."""
