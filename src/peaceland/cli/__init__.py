"""The ``peaceland`` command line: thin commands over the packages."""

from __future__ import annotations

from peaceland.cli.app import main

__all__ = [
    "main",
]
