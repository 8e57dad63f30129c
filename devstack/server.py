"""The HTTP API: Chalice's local server (what `chalice local` runs) in-process, on a thread."""

from __future__ import annotations

import threading
from typing import Any

from chalice.local import LocalDevServer, create_local_server

from .lambdas import chalice_config


class ApiServer:
    def __init__(self, app: Any, host: str, port: int):
        # Binds now, on the caller's thread: a port in use fails start-up instead of a background thread.
        self._dev: LocalDevServer = create_local_server(app, chalice_config(chalice_app=app), host, port)
        self.host = host
        self.port: int = self._dev.server.server_address[1]  # the real port when 0 was asked for
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        # ThreadingMixIn server: one thread per request; the app keeps request state per thread.
        self._thread = threading.Thread(target=self._dev.server.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._dev.shutdown()  # must not run on the serving thread: it waits for serve_forever to return
            self._thread.join()
        self._dev.server.server_close()
