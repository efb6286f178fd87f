"""editserve's benchmarks: ``.venv/bin/python -m bench`` (see bench/__main__.py)."""
