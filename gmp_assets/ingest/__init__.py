"""Ingestion: read project folders of the inbox and load them into the ``raw`` schema.

- ``parsing``: money, dates, headers and rows (pure); ``readers``: CSV and XLSX files and
  project.json; ``xer``: P6 XER schedules;
- ``loader``: one project's parsed files into the raw tables, in one transaction, idempotent;
- ``expectations``: GX suites on the raw tables; ``assets``: the ingest asset.
"""
