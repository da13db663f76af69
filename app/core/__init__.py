"""The routing core: plain Python over dataclasses, no web framework, no HTTP client."""
