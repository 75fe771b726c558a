"""HTTP edge: the ingest gateway and, later, the officers' API and dashboard."""
