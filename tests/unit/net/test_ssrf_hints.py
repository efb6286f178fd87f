"""A refused loopback or private URL says how the operator allows it (the allow-list
setting and the serve flag), naming the host the caller wrote, never a resolved address."""

from __future__ import annotations

import ipaddress

import pytest

from editserve.core.errors import InvalidParams
from editserve.net import ssrf
from editserve.net.ssrf import ForbiddenAddress, HostPolicy, IPAddress
from editserve.net.webhook_targets import check_target


def refusal(host: str, address: str) -> str:
    with pytest.raises(ForbiddenAddress) as refused:
        HostPolicy().check(host, [ipaddress.ip_address(address)])
    return str(refused.value)


def test_a_literal_is_offered_as_written() -> None:
    message = refusal("127.0.0.1", "127.0.0.1")
    assert "host '127.0.0.1' is a loopback address" in message
    assert "EDITSERVE_FETCH_ALLOW_HOSTS=127.0.0.1" in message
    assert "--fetch-allow-hosts 127.0.0.1" in message


def test_a_name_is_offered_never_its_address() -> None:
    message = refusal("Intranet.Example.", "10.1.2.3")
    assert "resolves to a private address" in message
    assert "EDITSERVE_FETCH_ALLOW_HOSTS=intranet.example" in message
    assert "--fetch-allow-hosts intranet.example" in message
    assert "10.1.2.3" not in message


def test_the_hint_allows_what_it_says() -> None:
    for host, address in [("localhost", "127.0.0.1"), ("::1", "::1"), ("10.0.0.1", "10.0.0.1")]:
        message = refusal(host, address)
        entry = message.split("EDITSERVE_FETCH_ALLOW_HOSTS=", 1)[1].split(" ", 1)[0]
        HostPolicy([entry]).check(host, [ipaddress.ip_address(address)])  # no raise


def test_cloud_metadata_gets_no_hint() -> None:
    message = refusal("169.254.169.254", "169.254.169.254")
    assert "cloud metadata" in message and "EDITSERVE_FETCH_ALLOW_HOSTS" not in message


def test_an_odd_host_is_not_pasted_into_the_hint() -> None:
    message = refusal('a"b c', "10.0.0.1")
    assert "EDITSERVE_FETCH_ALLOW_HOSTS=HOST" in message


async def test_a_webhook_refusal_says_how_to_allow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("192.168.7.7")]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    with pytest.raises(InvalidParams) as refused:
        await check_target("http://hooks.lan:8080/in", HostPolicy())
    detail = refused.value.detail
    assert detail.startswith("webhook: host 'hooks.lan' resolves to a private address")
    assert "EDITSERVE_FETCH_ALLOW_HOSTS=hooks.lan" in detail and "--fetch-allow-hosts" in detail
    assert "192.168.7.7" not in detail
