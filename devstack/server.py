"""The HTTP API: Chalice's local server (what `chalice local` runs) in-process, on a thread.

What API Gateway answers by itself on AWS (an unknown route or method, a malformed request), this server answers
here, in the API's one error shape as infra/resources.yaml makes API Gateway do; everything else goes to the app
through Chalice's LocalGateway unchanged.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LocalDevServer,
    LocalGatewayException,
    RouteMatcher,
    ThreadedHTTPServer,
)

from chalicelib.http import wire

from .lambdas import chalice_config

log = logging.getLogger("devstack.http")

# API Gateway's own limit on a request: a larger Content-Length is refused before a byte of it is read.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# http.server's own error answers (malformed request line, headers too large, ...) by the API's codes.
_STDLIB_CODES = {
    HTTPStatus.BAD_REQUEST: "bad_request",
    HTTPStatus.REQUEST_URI_TOO_LONG: "uri_too_long",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "headers_too_large",
    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED: "http_version_not_supported",
    HTTPStatus.EXPECTATION_FAILED: "expectation_failed",
}


_GATEWAY_ERRORS = {
    403: (404, "not_found", "no route matches this request"),
    401: (401, "unauthorized", "not authorized"),
}


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "error"


class Refusal(Exception):
    """An answer the server gives itself, without the app: status, error code, message, extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.details = details or {}


class ApiHTTPServer(ThreadedHTTPServer):
    """One thread per connection (Chalice's ThreadingMixIn server) with a listen backlog that takes a burst.

    socketserver's default backlog is 5: with 24-32 clients connecting at once (a till fleet reconnecting, a load
    test) the kernel reset the connections that did not fit while the threads were being started.
    """

    request_queue_size = 128


class ApiRequestHandler(ChaliceRequestHandler):
    """Chalice's handler, but every answer is JSON in the error shape, never http.server's HTML or Chalice's
    API Gateway imitation ("Missing Authentication Token" with a 403 for a route that does not exist)."""

    def __init__(self, request: Any, client_address: tuple[str, int], server: Any, app_object: Chalice,
                 config: Config) -> None:
        # Set before the base __init__: it handles the whole connection before returning.
        self._routes: dict[str, dict[str, Any]] = app_object.routes
        self._matcher = RouteMatcher(list(app_object.routes))
        super().__init__(request, client_address, server, app_object, config)

    # --- requests for a method http.server knows (do_GET, do_POST, ...) --------------------------------------------

    def _generic_handle(self) -> None:
        try:
            self._route()  # before the body is read: an unknown route never reaches the app
            self._check_length()
            super()._generic_handle()
        except Refusal as refusal:
            self._send_shaped(refusal)
        except ConnectionError:
            self.close_connection = True  # the client went away: there is nobody to answer
        except Exception:
            log.exception("%s %s failed in the local HTTP server", self.command, self.path)
            self._send_shaped(Refusal(500, "internal_error", "an unexpected error occurred; it has been logged"))

    # The base class binds these to its own _generic_handle when it is defined: they must be bound again here.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _route(self) -> str:
        """The route pattern the path matches; a Refusal (404) when none does or the path climbs with `..`."""
        path = urlsplit(self.path).path
        # Decoded first: "%2e%2e" is the same climb. API Gateway never hands such a path to a function either.
        if any(segment in (".", "..") for segment in unquote(path).split("/")):
            raise Refusal(404, "not_found", "no route matches a path with '.' or '..' segments")
        try:
            return self._matcher.match_route(self.path).route
        except ValueError:
            raise Refusal(404, "not_found", f"no route matches {path[:200]}") from None

    def _check_length(self) -> None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            # Chalice's handler reads Content-Length bytes only: a chunked body would be taken for the next request.
            raise Refusal(411, "length_required", "send the body with a Content-Length, not chunked")
        raw = self.headers.get("content-length", "0").strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
            raise Refusal(400, "bad_request", "Content-Length must be a number of bytes")
        if int(raw) > MAX_REQUEST_BYTES:
            raise Refusal(413, "payload_too_large", f"the request is larger than {MAX_REQUEST_BYTES} bytes",
                          details={"max_bytes": MAX_REQUEST_BYTES})

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # LocalGateway's own answers. Its 403 "Missing Authentication Token" is API Gateway's reply to a route that
        # does not exist (_route answers those first); 401 and 500 come from Chalice authorizers, which this app
        # does not use. Shaped all the same, should one ever come.
        status, code, message = _GATEWAY_ERRORS.get(error.CODE, (500, "internal_error", "the local gateway failed"))
        self._send_shaped(Refusal(status, code, message))

    # --- everything http.server answers itself ----------------------------------------------------------------------

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's errors, shaped. 501 is its answer to a method it has no do_<METHOD> for (FOO, TRACE)."""
        self.log_error("code %d, message %s", code, message)
        if getattr(self, "request_version", None) not in ("HTTP/1.0", "HTTP/1.1"):
            # An unreadable request line leaves http.server at HTTP/0.9, whose answers carry no status line.
            self.request_version = self.protocol_version
        if code == HTTPStatus.NOT_IMPLEMENTED:
            self._send_shaped(self._unknown_method())
            return
        self._send_shaped(Refusal(code, _STDLIB_CODES.get(code, "bad_request"), message or _phrase(code)))

    def _unknown_method(self) -> Refusal:
        try:
            route = self._route()
        except Refusal as refusal:
            return refusal
        allowed = sorted(self._routes[route])
        return Refusal(405, "method_not_allowed", f"unsupported method: {self.command[:32]}",
                       headers={"Allow": ", ".join(allowed)}, details={"allowed": allowed})

    def _send_shaped(self, refusal: Refusal) -> None:
        body = wire.error(refusal.status, refusal.code, refusal.message, refusal.details).body.encode()
        self.send_response(refusal.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in refusal.headers.items():
            self.send_header(name, value)
        # The request's body (if any) was not read: the connection cannot carry another request.
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)


class ApiServer:
    def __init__(self, app: Chalice, host: str, port: int):
        # Binds now, on the caller's thread: a port in use fails start-up instead of a background thread.
        # Not create_local_server: it swaps the app's class for one keeping the request per thread, which
        # ThreadSafeChalice (chalicelib/http/chalice_app.py) already does, lambda context included.
        self._dev = LocalDevServer(app, chalice_config(chalice_app=app), host, port,
                                   handler_cls=ApiRequestHandler, server_cls=ApiHTTPServer)
        self.host = host
        self.port: int = self._dev.server.server_address[1]  # the real port when 0 was asked for
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # One thread per connection (ThreadingMixIn); the app keeps request state per thread.
        self._thread = threading.Thread(target=self._dev.server.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._dev.shutdown()  # must not run on the serving thread: it waits for serve_forever to return
            self._thread.join()
        self._dev.server.server_close()
