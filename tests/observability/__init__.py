"""Checks of the observability assets: alert rules, dashboards, runbooks, live Prometheus."""
