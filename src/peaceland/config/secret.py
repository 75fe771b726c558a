"""Secrets that never show themselves in logs, reprs or tracebacks."""

from __future__ import annotations

from typing import Any


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """The first four characters, enough to tell two secrets apart."""
        return self._value[:4] + "…" if self._value else ""

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def secret(raw: Any, origin: str) -> Secret:
    """The parser of secret settings: any value, kept as a string."""
    return raw if isinstance(raw, Secret) else Secret(str(raw))
