"""Ingestion: read project folders of the inbox (pure readers) and load them into the raw schema."""
