"""The bottom layer: settings, the one error vocabulary, logging, devices. Imports nothing
of editserve."""
