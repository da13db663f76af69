"""Test support: real processes (OPA, Redis, the proxy) started on free loopback ports."""
