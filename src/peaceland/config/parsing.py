"""How one setting's raw value (a string from the environment, any TOML value) becomes typed.

Each parser takes ``(raw, origin)`` and returns the value or raises ``ConfigError`` naming
``origin`` (the variable, the file key or the option); pure, so tested without a process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from peaceland.contract import ConfigError

T = TypeVar("T")
Parser = Callable[[Any, str], T]


def text(raw: Any, origin: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"{origin}: expected a string, got {raw!r}")
    return raw


def path(raw: Any, origin: str) -> Path:
    return Path(str(raw))


def integer(
    low: int | None = None, high: int | None = None, why: str = ""
) -> Callable[[Any, str], int]:
    """An integer within ``low..high``; ``why`` opens the message when it is not."""

    def parse(raw: Any, origin: str) -> int:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {raw!r} is not an integer") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(f"{origin}: {why}, got {value}")
        return value

    return parse


def seconds(*, zero_ok: bool) -> Callable[[Any, str], float]:
    """A finite duration in seconds, more than 0 (or 0 too when ``zero_ok``)."""

    def parse(raw: Any, origin: str) -> float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {raw!r} is not a number of seconds") from None
        if zero_ok and value == 0:
            return value
        if not value > 0 or value == float("inf"):
            least = "0 or a positive" if zero_ok else "a positive"
            raise ConfigError(f"{origin}: must be {least} number of seconds, got {raw!r}")
        return value

    return parse


def rate(raw: Any, origin: str) -> float:
    """Requests per second; 0 switches the limit off."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {raw!r} is not a number of requests per second") from None
    if not 0 <= value < float("inf"):
        raise ConfigError(f"{origin}: must be 0 (no limit) or a positive number, got {raw!r}")
    return value


def _is_http_url(url: str) -> bool:
    scheme, sep, rest = url.partition("://")
    return scheme.lower() in ("http", "https") and bool(sep) and bool(rest.split("/")[0])


def webhook_urls(raw: Any, origin: str) -> tuple[str, ...]:
    """Comma-separated in the environment, a list (or that string) in ``peaceland.toml``."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{origin}: expected comma-separated URLs, got {raw!r}")
    urls: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if not _is_http_url(item):
            raise ConfigError(f"{origin}: {item!r} is not an http:// or https:// URL")
        if item not in urls:
            urls.append(item)
    return tuple(urls)


def tiles_url(raw: Any, origin: str) -> str:
    """An http(s) tile URL template with ``{z}``, ``{x}`` and ``{y}`` (Leaflet's syntax)."""
    url = raw.strip() if isinstance(raw, str) else ""
    if not _is_http_url(url):
        raise ConfigError(f"{origin}: {raw!r} is not an http:// or https:// URL")
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ConfigError(
            f"{origin}: tile URL needs {', '.join(missing)}, e.g. .../{{z}}/{{x}}/{{y}}.png"
        )
    return url
