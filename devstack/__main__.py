"""`make run`: the whole system on this machine, in one process (see stack.py for what runs).

OMNIMAN_PORT (default 8000) sets the API port, OMNIMAN_EMULATOR_PORT the emulator's (default: a free one).
OMNIMAN_AWS_ENDPOINT_URL (e.g. LocalStack) or OMNIMAN_USE_AWS=1 (your credentials) replace the emulator.
Ctrl-C (SIGINT) or SIGTERM stops everything and exits 0.

Only the standard library is imported at module level: the signal handlers go in before the slow imports
(moto, boto3, the app), so a Ctrl-C at any moment of start-up is a clean stop, never a traceback.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType


class Interrupted(BaseException):
    """A stop signal arrived before the stack was up. A BaseException, like KeyboardInterrupt, so that the
    `except Exception` blocks of the libraries it passes through (botocore retries...) cannot swallow it."""


def main() -> int:
    stop = threading.Event()
    ready = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        interrupting = not ready.is_set() and not stop.is_set()  # a second signal must not break the clean-up
        stop.set()
        if interrupting:
            raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stack = None
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        from .emulator import PortUnavailable
        from .stack import Stack, start

        stack = Stack()
        try:
            text = start(stack, stop)
        except (PortUnavailable, OSError, ValueError, BotoCoreError, ClientError) as exc:
            # Expected ways to fail (port taken, bad setting, AWS unreachable or refusing): the cause, no traceback.
            print(f"Omniman could not start: {exc}", file=sys.stderr, flush=True)
            return 1
        print(text, flush=True)
        ready.set()
        while not stop.wait(0.5):  # a short wait keeps the main thread responsive to signals
            pass
        print("Stopping Omniman...", flush=True)
        return 0
    except Interrupted:
        print("Interrupted during start-up; stopping.", flush=True)
        return 0
    finally:
        stop.set()
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
