"""Shared foundations: record types, the time grid, configs, registry and file io."""
