"""Benchmarking: host, emulated ARM devices and phones, with per-op timings."""
