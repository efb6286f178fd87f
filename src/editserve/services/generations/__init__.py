"""Generations as use cases: reading a request, submitting it, showing it."""
