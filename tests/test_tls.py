"""HTTPS on the mock port (`--tls-cert` / `--tls-key`), with a throwaway CA from trustme."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import trustme

from controlplane.server import ControlplaneServer, ServerConfig, StartupError
from tests.process import run_cli, serve_process

HELLO: dict[str, Any] = {
    "method": "GET",
    "path": "/hello",
    "handler": "hello",
    "response": {"type": "json", "body": {"secure": True}},
}


@dataclass
class TlsFiles:
    ca: trustme.CA
    ca_pem: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(ca, directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca_pem))
    issued.private_key_pem.write_to_path(str(files.key))
    for index, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(files.cert), append=index > 0)
    return files


async def test_in_process_server_answers_over_https(tls: TlsFiles) -> None:
    config = ServerConfig(port=0, admin_port=0, tls_cert=tls.cert, tls_key=tls.key)
    async with ControlplaneServer(config) as server:
        assert server.mock_url.startswith("https://127.0.0.1:")
        assert server.admin_url.startswith("http://")  # TLS is for mock traffic only
        async with httpx.AsyncClient(verify=tls.client_context(), timeout=5) as client:
            added = await client.post(f"{server.admin_url}/api/routes", json=HELLO)
            assert added.status_code == 201, added.text
            answer = await client.get(f"{server.mock_url}/hello")
        assert answer.status_code == 200
        assert answer.json() == {"secure": True}

        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{server.mock_url}/hello", ssl=tls.client_context()) as response,
        ):
            assert response.status == 200
            assert await response.json() == {"secure": True}


async def test_client_without_the_ca_refuses_the_certificate(tls: TlsFiles) -> None:
    config = ServerConfig(port=0, admin_port=0, tls_cert=tls.cert, tls_key=tls.key)
    async with (
        ControlplaneServer(config) as server,
        httpx.AsyncClient(timeout=5) as client,
    ):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"{server.mock_url}/hello")


def test_cli_serves_https_with_tls_flags(tls: TlsFiles, tmp_path: Path) -> None:
    flags = ("--tls-cert", str(tls.cert), "--tls-key", str(tls.key))
    with serve_process(tmp_path, *flags) as server:
        assert server.mock_url.startswith("https://127.0.0.1:")
        added = requests.post(f"{server.admin_url}/api/routes", json=HELLO, timeout=5)
        assert added.status_code == 201, added.text
        answer = requests.get(f"{server.mock_url}/hello", verify=str(tls.ca_pem), timeout=5)
        assert answer.json() == {"secure": True}
        assert server.stop() == 0


@pytest.mark.parametrize("given", ["tls_cert", "tls_key"])
def test_config_with_only_one_of_cert_and_key_is_refused(tls: TlsFiles, given: str) -> None:
    with pytest.raises(ValueError, match="--tls-cert and --tls-key go together"):
        ServerConfig(port=0, admin_port=0, **{given: tls.cert})  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["--tls-cert", "--tls-key"])
def test_cli_with_only_one_of_cert_and_key_exits_2(tls: TlsFiles, flag: str) -> None:
    done = run_cli("serve", "--port", "0", "--admin-port", "0", flag, str(tls.cert))
    assert done.returncode == 2
    assert "--tls-cert and --tls-key go together" in done.stderr
    assert "Traceback" not in done.stderr


async def test_missing_certificate_file_names_it(tls: TlsFiles, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    server = ControlplaneServer(
        ServerConfig(port=0, admin_port=0, tls_cert=missing, tls_key=tls.key)
    )
    with pytest.raises(StartupError, match="cannot load the TLS certificate") as raised:
        await server.start()
    assert str(missing) in raised.value.message


def test_cli_with_a_key_that_is_not_pem_exits_2(tls: TlsFiles, tmp_path: Path) -> None:
    bad_key = tmp_path / "key.pem"
    bad_key.write_text("not a key\n")
    done = run_cli(
        "serve", "--port", "0", "--admin-port", "0",
        "--tls-cert", str(tls.cert), "--tls-key", str(bad_key),
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot_start" in done.stderr
    assert "cannot load the TLS certificate" in done.stderr
    assert "Traceback" not in done.stderr
