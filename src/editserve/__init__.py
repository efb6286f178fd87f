"""editserve: a self-hosted, Oxen-compatible inference server for Qwen-Image-Edit-2509."""

__version__ = "0.1.0"
