"""NATS users and permissions rendered into nats.conf (pure)."""

from __future__ import annotations

import bcrypt
import pytest

from peaceland.access.nats_users import (
    FLEET_PERMISSIONS,
    SERVICE_PERMISSIONS,
    authorization_block,
    drone_inbox_prefix,
    drone_permissions,
    hash_password,
    users_for,
    with_credentials,
)
from peaceland.contract import DEFAULT_INBOX_PREFIX, SERVICE_INBOX_PREFIX


def test_a_drone_may_publish_only_on_its_subject_and_read_only_its_inbox() -> None:
    perms = drone_permissions("pw-7")
    assert perms.publish == ("peaceland.reports.pw-7",)
    assert perms.subscribe == ("_INBOX.pw-7.>",)
    assert drone_inbox_prefix("pw-7") == "_INBOX.pw-7"


@pytest.mark.parametrize("bad", ["", "a.b", "a>", "*", "a b", "x" * 65])
def test_drone_ids_that_are_not_a_single_subject_token_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid drone id"):
        drone_permissions(bad)


def test_the_fleet_may_only_publish_reports() -> None:
    assert FLEET_PERMISSIONS.publish == ("peaceland.reports.>",)
    assert FLEET_PERMISSIONS.subscribe == ("_INBOX.>",)
    # services reply on a prefix outside the fleet's "_INBOX.>"
    assert "_PEACELAND_INBOX.>" in SERVICE_PERMISSIONS.subscribe
    assert not SERVICE_INBOX_PREFIX.startswith(DEFAULT_INBOX_PREFIX + ".")


def test_the_config_holds_hashes_never_passwords() -> None:
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$2")
    assert bcrypt.checkpw(b"s3cret-pass", hashed.encode())
    assert not bcrypt.checkpw(b"other", hashed.encode())
    text = authorization_block(users_for(hashed, hashed, {"d1": hashed}))
    assert "s3cret-pass" not in text
    assert 'user: "drone-d1"' in text
    assert '"peaceland.reports.d1"' in text
    assert text.count("{user:") == 3


def test_credentials_go_into_the_url_escaped() -> None:
    url = with_credentials("nats://127.0.0.1:4222", "fleet", "a/b:c@d")
    assert url == "nats://fleet:a%2Fb%3Ac%40d@127.0.0.1:4222"
    assert with_credentials("nats://old:pw@h:1", "u", "p") == "nats://u:p@h:1"
