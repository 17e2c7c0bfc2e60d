"""One parser per file format; `service.ingest.registry` picks one by file type."""
