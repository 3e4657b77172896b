"""The forecast hub: a web app and JSON API for cost teams (``gmp serve``), reading the platform's
tables under each caller's PostgreSQL role."""
