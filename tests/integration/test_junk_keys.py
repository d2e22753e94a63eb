"""Junk API keys through the real Chalice apps: refused at the edge without
PostgreSQL, and new keys in the checksummed format (smsgw.auth)."""

from __future__ import annotations

from typing import Any

import pytest
from ingress_helpers import Ingress, assert_error, sms

from smsgw.accounts import rotate_api_key
from smsgw.auth.keys import generate_api_key, is_well_formed
from smsgw.bootstrap.ingress import IngressRoot

DEMO_KEY = "b57410a7-ea73-4b3d-811f-daa0bb565500"  # README, infra/local/seed.py


@pytest.fixture
def ingress(settings: Any) -> Ingress:
    return Ingress(IngressRoot(settings))


@pytest.fixture
def alpha(make_provider: Any) -> str:
    make_provider("alpha")
    return "alpha"


# --- the key format -------------------------------------------------------------------


@pytest.mark.usefixtures("alpha")
def test_created_and_rotated_keys_use_the_new_format(
    ingress: Ingress, make_client: Any, db: Any, redis_client: Any, keys: Any
) -> None:
    created = make_client()
    assert created.api_key.startswith("smsgw_live_")
    assert len(created.api_key) == len("smsgw_live_") + 32 + 6
    assert is_well_formed(created.api_key)
    assert ingress.post(sms(), api_key=created.api_key).status == 202

    rotated = rotate_api_key(db, redis_client, keys, created.client.id)
    assert rotated.startswith("smsgw_live_")
    assert is_well_formed(rotated)
    assert ingress.post(sms(), api_key=rotated).status == 202
    assert_error(ingress.post(sms(), api_key=created.api_key), 401, "UNAUTHORIZED")


@pytest.mark.usefixtures("alpha")
def test_the_demo_style_uuid_key_still_works(ingress: Ingress, make_client: Any) -> None:
    # As the local seed creates it: a fixed legacy key.
    make_client(api_key=DEMO_KEY)
    assert ingress.post(sms(), api_key=DEMO_KEY).status == 202
    assert_error(ingress.post(sms(), api_key=DEMO_KEY.upper()), 401, "UNAUTHORIZED")


def test_a_fixed_key_must_be_well_formed(make_client: Any) -> None:
    with pytest.raises(ValueError, match="legacy UUID"):
        make_client(api_key="my-own-key")
    key = generate_api_key()
    broken = key[:-1] + ("0" if key[-1] != "0" else "1")
    with pytest.raises(ValueError, match="legacy UUID"):
        make_client(api_key=broken)
