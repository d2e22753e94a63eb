"""build_provider: kinds, unknown kinds, and the per-provider cache (no I/O: adapters
open nothing until their first send)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smsgw.config import Settings
from smsgw.providers.factory import (
    PROVIDER_CLASSES,
    UnknownProviderKind,
    build_provider,
    clear_cache,
)
from smsgw.providers.registry import META_FIELD, ProviderInfo, is_provider_name
from smsgw.providers.simulator import SimulatorProvider
from smsgw.providers.sns import SnsProvider

SIM_CONFIG = {"url": "http://127.0.0.1:4599", "remote_name": "alpha"}


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def settings() -> Settings:
    return Settings(aws_region="eu-west-2", provider_timeout_seconds=1.5)


def test_every_kind_maps_to_its_adapter_class() -> None:
    assert set(PROVIDER_CLASSES) == {"simulator", "sns"}
    assert PROVIDER_CLASSES["simulator"] is SimulatorProvider
    assert PROVIDER_CLASSES["sns"] is SnsProvider
    assert all(kind == cls.kind for kind, cls in PROVIDER_CLASSES.items())


def test_simulator_row_builds_a_simulator_adapter_with_settings(settings: Settings) -> None:
    provider = build_provider(ProviderInfo("alpha", "simulator", config=SIM_CONFIG), settings)

    assert isinstance(provider, SimulatorProvider)
    assert provider.name == "alpha"
    assert provider.endpoint == "http://127.0.0.1:4599/providers/alpha/messages"
    assert provider.timeout.total == 1.5


def test_sns_row_takes_the_default_region_from_settings(settings: Settings) -> None:
    provider = build_provider(ProviderInfo("aws", "sns"), settings)

    assert isinstance(provider, SnsProvider)
    assert provider.region == "eu-west-2"
    assert provider.sms_type == "Transactional"


def test_unknown_kind_raises(settings: Settings) -> None:
    with pytest.raises(UnknownProviderKind, match="carrier-pigeon") as caught:
        build_provider(ProviderInfo("bird", "carrier-pigeon"), settings)
    assert isinstance(caught.value, ValueError)
    assert (caught.value.name, caught.value.kind) == ("bird", "carrier-pigeon")


def test_invalid_config_raises_value_error(settings: Settings) -> None:
    with pytest.raises(ValueError, match="url"):
        build_provider(ProviderInfo("alpha", "simulator", config={}), settings)


def test_same_row_reuses_the_built_adapter(settings: Settings) -> None:
    first = build_provider(ProviderInfo("alpha", "simulator", config=SIM_CONFIG), settings)
    # Key order in the jsonb row does not matter, nor do priority/weight/enabled.
    reordered = dict(reversed(list(SIM_CONFIG.items())))
    again = build_provider(
        ProviderInfo("alpha", "simulator", priority=1, weight=5, config=reordered), settings
    )
    assert again is first


def test_changed_config_builds_a_new_adapter(settings: Settings) -> None:
    first = build_provider(ProviderInfo("alpha", "simulator", config=SIM_CONFIG), settings)
    changed = {**SIM_CONFIG, "url": "http://127.0.0.1:4600"}

    second = build_provider(ProviderInfo("alpha", "simulator", config=changed), settings)

    assert second is not first
    assert second.config["url"] == "http://127.0.0.1:4600"
    # The new adapter replaced the old one: going back builds afresh too.
    third = build_provider(ProviderInfo("alpha", "simulator", config=SIM_CONFIG), settings)
    assert third is not first


def test_changed_kind_or_settings_builds_a_new_adapter(settings: Settings) -> None:
    sim = build_provider(ProviderInfo("p", "simulator", config=SIM_CONFIG), settings)
    sns = build_provider(ProviderInfo("p", "sns", config=SIM_CONFIG), settings)
    assert isinstance(sns, SnsProvider)
    assert sns is not sim

    other = Settings(aws_region="ap-south-1", provider_timeout_seconds=1.5)
    assert build_provider(ProviderInfo("p", "sns", config=SIM_CONFIG), other) is not sns


def test_clear_cache_forgets_adapters(settings: Settings) -> None:
    info = ProviderInfo("aws", "sns")
    first = build_provider(info, settings)
    clear_cache()
    assert build_provider(info, settings) is not first


@pytest.mark.parametrize("name", ["alpha", "a", "sns-eu_1", "0x", "a" * 64])
def test_provider_names(name: str) -> None:
    assert is_provider_name(name)


@pytest.mark.parametrize(
    "name", [META_FIELD, "_alpha", "-alpha", "", "a" * 65, "Alpha", "a.b", "a b", "alpha\n"]
)
def test_not_provider_names(name: str) -> None:
    # A leading '_' is kept for the registry hash's own fields (META_FIELD)
    assert not is_provider_name(name)
