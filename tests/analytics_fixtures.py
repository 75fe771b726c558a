"""Module-scoped fixtures over the known archive (``analytics_data``) for the tests of the
locked-down DuckDB and of ``POST /api/v1/sql``. A test module imports the fixture functions;
the tests ask for them by their fixture names, ``known`` and ``archive``::

    from analytics_fixtures import archive_fixture, known_fixture  # noqa: F401

The functions have other names than their fixtures so that test arguments do not shadow an
import.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from analytics_data import Known, write_known
from peaceland.analytics import Archive, archive_from


@pytest.fixture(scope="module", name="known")
def known_fixture(stack: Any) -> Known:
    """The known data set, written once per test module under a key prefix of its own."""
    return asyncio.run(write_known(stack.endpoints))


@pytest.fixture(scope="module", name="archive")
def archive_fixture(stack: Any, known: Known) -> Archive:
    """The archive holding ``known``."""
    return archive_from(stack.endpoints, known.prefix)
