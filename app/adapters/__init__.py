"""Adapters: the real implementations of the core's ports (OPA, disk, Redis, HTTP)."""
