"""Fixtures of the integration tests beyond tests/conftest.py's (the server, the instance, the demo)."""

import pytest
from support.hub_world import hub  # noqa: F401 - the forecast hub on two owners' data, for test_hub_*.py


@pytest.fixture(scope="module")
def forget_new_projects(pg, instance, demo_inbox, trained):
    """Projects a module makes (other than the demo portfolio's) removed when it is done. The session's
    model is trained first, so it learns from the demo portfolio only and the data it was trained on is
    the data again once the module's projects are gone."""
    from support.cleanup import project_keys, remove_projects

    demo = {folder.name for folder in demo_inbox.iterdir() if folder.is_dir()}
    before = project_keys()
    yield
    made = sorted(project_keys() - before - demo)
    if made:
        remove_projects(made, instance)
