"""One reader of the events table per API process, and the per-key feeds it serves."""
