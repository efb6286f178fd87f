"""Outgoing requests: the SSRF guard every one of them passes, and the fetcher."""
