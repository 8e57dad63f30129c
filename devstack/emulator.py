"""The embedded AWS emulator: moto's server on a thread of this process (no Docker, nothing downloaded)."""

from __future__ import annotations

import logging
import socket
import warnings
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

from .atomic_moto import make_dynamodb_atomic

HOST = "127.0.0.1"


class PortUnavailable(RuntimeError):
    pass


@dataclass
class Emulator:
    server: ThreadedMotoServer
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self.server.stop()


def start_emulator(port: int = 0) -> Emulator:
    """Starts moto on `port`; 0 lets the OS pick a free one at bind time, so two stacks never race for a port."""
    # moto logs every request it serves; keep the console for the app's own logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _expect_no_alarms()
    # The API serves requests on threads and the pollers run beside it: moto's DynamoDB must apply each request
    # atomically, as DynamoDB does, or concurrent conditional writes could both succeed.
    make_dynamodb_atomic()
    if port:
        _check_free(port)
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    _, bound = server.get_host_and_port()
    return Emulator(server, bound)


def _check_free(port: int) -> None:
    # ThreadedMotoServer binds on its own thread and start() would wait forever if that bind failed:
    # fail here instead, with a message that names the setting.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise PortUnavailable(f"OMNIMAN_EMULATOR_PORT={port} is not free ({exc.strerror})") from None


def _expect_no_alarms() -> None:
    """moto's CloudFormation does not emulate CloudWatch alarms and says so, as a log line and as a warning,
    for each alarm on every stack read. Nothing local reads alarms: one line at deploy says so instead
    (see stack.py); any other unsupported type still shows, since that one would matter."""
    warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudWatch::Alarm", category=UserWarning)
    logging.getLogger("moto").addFilter(
        lambda record: not (record.msg == "No Moto CloudFormation support for %s"
                            and record.args == ("AWS::CloudWatch::Alarm",)))
