"""What editserve is about, with no I/O: a generation and its states, its typed events, a
worker's start-up stages, webhook signatures. Imports only core."""
