"""Provider selection over HTTP: exclusive, a priority list, smart; and failover."""

from __future__ import annotations

from e2e_support import Api, Simulator, sms


def _outcomes(simulator: Simulator, tracking_id: str) -> list[tuple[str, str]]:
    return [(m["provider"], m["outcome"]) for m in simulator.messages(tracking_id)]


def test_exclusive_provider(api: Api, simulator: Simulator) -> None:
    reply = api.send(sms(providers=["beta"]))
    assert reply.status == 202, reply.raw
    tracking_id = reply.json()["tracking_id"]

    message = api.wait_settled(tracking_id)

    assert (message["status"], message["provider"]) == ("sent", "beta")
    assert _outcomes(simulator, tracking_id) == [("beta", "accepted")]


def test_priority_list_is_followed_in_order(api: Api, simulator: Simulator) -> None:
    reply = api.send(sms(providers=["beta", "alpha"]))
    tracking_id = reply.json()["tracking_id"]

    message = api.wait_settled(tracking_id)

    assert (message["status"], message["provider"]) == ("sent", "beta")
    assert _outcomes(simulator, tracking_id) == [("beta", "accepted")]


def test_priority_list_fails_over_when_the_first_provider_is_down(
    api: Api, simulator: Simulator
) -> None:
    # Given beta answers every send with 503
    simulator.configure("beta", failure_mode="transient")

    # When a message names beta first, then alpha
    reply = api.send(sms(providers=["beta", "alpha"]))
    tracking_id = reply.json()["tracking_id"]

    # Then alpha sends it, in the same attempt, and only alpha accepted it
    message = api.wait_settled(tracking_id)
    assert (message["status"], message["provider"]) == ("sent", "alpha")
    outcomes = _outcomes(simulator, tracking_id)
    assert outcomes[0] == ("beta", "transient_error")
    assert [o for o in outcomes if o[1] == "accepted"] == [("alpha", "accepted")]


def test_smart_selection_avoids_a_failing_provider(api: Api, simulator: Simulator) -> None:
    # Given alpha (the preferred provider by priority) is down
    simulator.configure("alpha", failure_mode="transient")

    # When messages name no provider (smart selection)
    replies = [api.send(sms(text=f"smart {i}")) for i in range(3)]

    # Then each is sent by beta, once
    accepted = simulator.accepted_counts()
    for reply in replies:
        assert reply.status == 202, reply.raw
        tracking_id = reply.json()["tracking_id"]
        message = api.wait_settled(tracking_id)
        assert (message["status"], message["provider"]) == ("sent", "beta")
        accepted = simulator.accepted_counts()
        assert accepted[tracking_id] == 1


def test_unknown_provider_is_refused_at_ingress(api: Api) -> None:
    reply = api.send(sms(providers=["nope"]))
    assert (reply.status, reply.json()["error_code"]) == (422, "UNKNOWN_PROVIDER")
