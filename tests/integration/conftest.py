"""Fixtures of the integration tests beyond tests/conftest.py's (the server, the instance, the demo)."""

from support.hub_world import hub  # noqa: F401 - the forecast hub on two owners' data, for test_hub_*.py
