"""Batches (issue 22): up to 10,000 edit or generate requests submitted as one, run at a
lower priority than interactive requests, read back as a manifest and a zip."""
