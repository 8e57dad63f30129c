"""The local HTTP server as clients meet it: `python -m devstack` over raw sockets and http.client.

A burst of connections is answered, not reset; what API Gateway answers by itself on AWS (unknown routes and
methods, `..` paths, malformed requests) and Chalice's own refusals (415) come back as JSON in the error shape.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_local_stack import READY, ROOT, START_TIMEOUT, clean_env, free_port, wait_for

BURST = 32
# A SYN dropped because the listen backlog was full is retransmitted after a second: any connect that slow
# means the backlog did not take the burst (macOS resets such connections instead).
SLOW_CONNECT_SECONDS = 0.9


@dataclass
class Server:
    host: str
    port: int
    key: str

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    logs = tmp_path_factory.mktemp("devstack-server")
    stdout, stderr = logs / "stdout.log", logs / "stderr.log"
    key = "omk_" + secrets.token_urlsafe(24)
    env = clean_env(OMNIMAN_PORT=str(free_port()), OMNIMAN_EMULATOR_PORT=str(free_port()),
                    OMNIMAN_BOOTSTRAP_ADMIN_KEY=key)
    # Files, not pipes: a pipe nobody drains would block the stack once its buffer fills with log lines.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "devstack"], cwd=ROOT, stdout=out, stderr=err, env=env)
    try:
        url = wait_for(lambda: _ready(proc, stdout, stderr), START_TIMEOUT, "the ready line", interval=0.25)
        parts = urlsplit(url)
        yield Server(parts.hostname or "127.0.0.1", parts.port or 80, key)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _ready(proc: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> str | None:
    if proc.poll() is not None:
        raise AssertionError(f"devstack exited with {proc.returncode} before it was ready:\n"
                             f"{stdout.read_text()}\n{stderr.read_text()[-6000:]}")
    match = READY.search(stdout.read_text())
    return match.group(1) if match else None


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        """The error object, after checking that the answer is JSON in the one error shape."""
        assert self.headers.get("content-type", "").startswith("application/json"), (self.headers, self.body)
        payload = json.loads(self.body)
        assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message", "details"}, payload
        return payload["error"]


def call(server: Server, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> Answer:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=20)
    try:
        # skip_accept_encoding etc. are not needed; putrequest lets any method and path through unchanged.
        conn.putrequest(method, path, skip_host=False)
        for name, value in {**(headers or {}), "Content-Length": str(len(body or b""))}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def raw_exchange(server: Server, request: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def parse(response: bytes) -> Answer:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return Answer(int(status_line.split()[1]), headers, body)


# --- a burst of clients ---------------------------------------------------------------------------------------------

def test_a_burst_of_clients_connecting_at_once_all_get_answers(server: Server) -> None:
    barrier = threading.Barrier(BURST)
    results: list[tuple[float, bytes] | BaseException] = []
    lock = threading.Lock()

    def client() -> None:
        barrier.wait()  # all connect at the same moment, before the server accepted any
        try:
            started = time.monotonic()
            with socket.create_connection((server.host, server.port), timeout=20) as sock:
                connected = time.monotonic() - started
                sock.sendall(f"GET /v1/health HTTP/1.1\r\nHost: {server.host}\r\nConnection: close\r\n\r\n".encode())
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            outcome: tuple[float, bytes] | BaseException = (connected, received)
        except OSError as exc:  # ConnectionResetError, ConnectionRefusedError, timeouts
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    answers = [r for r in results if not isinstance(r, BaseException)]
    assert len(answers) == BURST
    assert all(parse(received).status == 200 for _, received in answers), [received[:80] for _, received in answers]
    slowest = max(connected for connected, _ in answers)
    assert slowest < SLOW_CONNECT_SECONDS, f"a connect took {slowest:.2f} s: the listen backlog overflowed"


# --- what API Gateway answers on AWS --------------------------------------------------------------------------------

@pytest.mark.parametrize("with_key", [True, False])
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nope"), ("POST", "/v1/channels/pos/sessions/x/y/z"),
                                              ("GET", "/"), ("DELETE", "/v1"), ("GET", "/v1/health/x?y=1")])
def test_unknown_routes_are_404_not_found(server: Server, with_key: bool, method: str, path: str) -> None:
    answer = call(server, method, path, server.auth() if with_key else {}, b"{}" if method == "POST" else None)
    assert (answer.status, answer.error()["code"]) == (404, "not_found")


@pytest.mark.parametrize("with_key", [True, False])
def test_unknown_methods_are_405_on_a_route_and_404_elsewhere(server: Server, with_key: bool) -> None:
    headers = server.auth() if with_key else {}
    answer = call(server, "FOO", "/v1/channels", headers)
    error = answer.error()
    assert (answer.status, error["code"]) == (405, "method_not_allowed")
    assert answer.headers["allow"] == "GET, POST"
    assert error["details"] == {"allowed": ["GET", "POST"]}
    for method in ("TRACE", "PROPFIND"):
        assert call(server, method, "/v1/health", headers).status == 405
    answer = call(server, "FOO", "/v1/nope", headers)
    assert (answer.status, answer.error()["code"]) == (404, "not_found")


@pytest.mark.parametrize("path", ["/v1/channels/../health", "/v1/directives/..", "/v1/channels/pos/sessions/%2e%2e",
                                  "/v1/orders/./events", "/v1/stores/%2E%2E?x=1", "/v1/directives/..%2F..%2Fhealth"])
def test_dot_segments_are_404_not_found(server: Server, path: str) -> None:
    answer = call(server, "GET", path, server.auth())
    assert (answer.status, answer.error()["code"]) == (404, "not_found")


def test_an_unsupported_media_type_is_415_in_the_error_shape(server: Server) -> None:
    answer = call(server, "POST", "/v1/channels", {**server.auth(), "Content-Type": "application/xml"}, b"<c/>")
    assert (answer.status, answer.error()["code"]) == (415, "unsupported_media_type")


def test_a_method_the_route_lacks_is_405_in_the_error_shape(server: Server) -> None:
    answer = call(server, "DELETE", "/v1/channels", server.auth())
    assert (answer.status, answer.error()["code"]) == (405, "method_not_allowed")
    assert answer.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"NOT A REQUEST LINE AT ALL\r\n\r\n", 400),
    (b"GET /v1/health HTTP/9.0\r\n\r\n", 505),
    (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400),
    (b"POST /v1/channels HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
    (b"POST /v1/channels HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
])
def test_malformed_requests_are_answered_in_the_error_shape(server: Server, request_bytes: bytes, status: int) -> None:
    answer = parse(raw_exchange(server, request_bytes))
    assert answer.status == status, answer
    answer.error()


def test_the_server_still_serves_after_all_that(server: Server) -> None:
    answer = call(server, "GET", "/v1/health")
    assert (answer.status, json.loads(answer.body)["status"]) == (200, "ok")
