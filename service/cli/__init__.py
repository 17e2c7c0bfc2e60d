"""The `kotae` command line: a thin layer over the core, one module per command group."""

import os

# Before chromadb is imported anywhere: no telemetry, and nothing reaches for the network.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
