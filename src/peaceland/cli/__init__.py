"""The ``peaceland`` command line: thin commands over the packages, one module per group.

``root`` (the group, ``main``), ``components`` (gateway, dashboard, alerter, archiver,
webhooks, simulate), ``servers`` (up, down, status, run, demo), ``archive``, ``alerts``,
``analytics`` (stats, sql), ``access`` (drone, token, audit); ``options`` is what they share.
"""

from __future__ import annotations

from peaceland.cli.options import settings_from
from peaceland.cli.root import cli, main

__all__ = [
    "cli",
    "main",
    "settings_from",
]
