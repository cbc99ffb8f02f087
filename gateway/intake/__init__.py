"""Intake: what the sources hand over is stored (the inbox), read in worker processes and
handed to the pipeline in batches (`hotline ingest`, the daemon's sweep)."""
