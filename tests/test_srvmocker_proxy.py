"""asyncly's `start_proxy` face: real clients through a real controlplane forward proxy.

asyncly's own tests/srvmocker/test_proxy.py passes against `controlplane.srvmocker` with
its import lines changed (see docs/reference/forward-proxy.md); these tests pin what it
does not: the failure messages, assertions after the proxy stopped, CONNECT in
`history`, and the `mock_proxy` fixture.
"""

from __future__ import annotations

import base64
import ssl
import warnings
from collections.abc import Iterator

import aiohttp
import pytest
import requests
import trustme

from controlplane.srvmocker import MockProxyService, start_proxy
from tests.origins import Origin


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as running:
        yield running


async def _get(url: str, proxy: str, **kwargs: object) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, proxy=proxy, **kwargs) as got:  # type: ignore[arg-type]
        return got.status, await got.read()


def _with_user(proxy: MockProxyService, user: str, password: str) -> str:
    return str(proxy.url.with_user(user).with_password(password))


async def test_history_keeps_the_absolute_target_and_survives_the_stop(origin: Origin) -> None:
    async with start_proxy() as proxy:
        status, _ = await _get(f"{origin.url}/echo/a?x=1&x=2", str(proxy.url))
    assert status == 200
    [call] = proxy.history
    assert str(call.url) == f"{origin.url}/echo/a?x=1&x=2"
    assert (call.method, call.path, call.handler_name) == ("GET", "/echo/a", "proxy")
    assert call.query.getall("x") == ["1", "2"]
    proxy.assert_called(times=1, target=f"{origin.url}/echo/a?x=1&x=2", method="GET")
    assert proxy.last_call() == call


async def test_a_failed_assertion_says_what_differed(origin: Origin) -> None:
    async with start_proxy() as proxy:
        await _get(f"{origin.url}/echo/a", str(proxy.url), headers={"X-Tenant": "a"})
    with pytest.raises(AssertionError) as failed:
        proxy.assert_called(times=2)
    assert str(failed.value) == "proxy: expected 2 call(s), got 1"
    with pytest.raises(AssertionError) as failed:
        proxy.assert_called(target=f"{origin.url}/echo/b")
    assert str(failed.value) == (
        "proxy: none of 1 call(s) matched the given criteria\n"
        f"no call had target {origin.url}/echo/b; the latest:\n"
        f"  GET {origin.url}/echo/a"
    )
    with pytest.raises(AssertionError) as failed:
        proxy.assert_called(method="GET", headers={"X-Tenant": "b"})
    message = str(failed.value)
    assert message.startswith("proxy: none of 1 call(s) matched the given criteria\n")
    assert "header X-Tenant:\n      - 'b'\n      + 'a'" in message
    with pytest.raises(AssertionError) as failed:
        proxy.assert_not_called()
    assert str(failed.value).startswith("proxy: expected no calls, got 1\n")


async def test_no_calls() -> None:
    async with start_proxy() as proxy:
        proxy.assert_not_called()
        proxy.assert_called(times=0)
        with pytest.raises(AssertionError, match=r"^proxy: expected at least one call, got 0$"):
            proxy.assert_called(method="GET")
        with pytest.raises(AssertionError, match=r"^no requests recorded by proxy$"):
            proxy.last_call()


async def test_auth_refuses_without_the_credentials_and_records_what_was_sent(
    origin: Origin,
) -> None:
    with warnings.catch_warnings():  # asyncly's API takes one; aiohttp 3.14 deprecates it
        warnings.simplefilter("ignore", DeprecationWarning)
        auth = aiohttp.BasicAuth("user", "secret")
    async with start_proxy(auth=auth) as proxy:
        refused, body = await _get(f"{origin.url}/echo/a", str(proxy.url))
        ok, echo = await _get(f"{origin.url}/echo/a", _with_user(proxy, "user", "secret"))
    assert refused == 407
    assert b"proxy_auth_required" in body
    assert ok == 200
    assert b"Proxy-Authorization" not in echo  # seen by the proxy, never forwarded
    sent = "Basic " + base64.b64encode(b"user:secret").decode()
    proxy.assert_called(times=2, headers={"Proxy-Authorization": sent})


def test_connect_appears_in_history(tmp_path: object) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = f"{tmp_path}/ca.pem"
    ca.cert_pem.write_to_path(ca_file)
    from controlplane.srvmocker.proxy import running_proxy

    with Origin(ssl_context=context) as tls, running_proxy() as proxy:
        answer = requests.get(
            f"{tls.url}/echo/x", proxies={"https": str(proxy.url)}, verify=ca_file, timeout=10
        )
        assert answer.json()["raw_path"] == "/echo/x"
        [call] = proxy.history
        assert (call.method, str(call.url)) == ("CONNECT", f"//{tls.url.partition('://')[2]}")


def test_the_mock_proxy_fixture(mock_proxy: MockProxyService, origin: Origin) -> None:
    answer = requests.get(f"{origin.url}/echo/f", proxies={"http": str(mock_proxy.url)}, timeout=10)
    assert answer.json()["raw_path"] == "/echo/f"
    mock_proxy.assert_called(times=1, target=f"{origin.url}/echo/f")
