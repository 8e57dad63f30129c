"""Deferred modules (chalicelib/lazy.py): run on first use, once, whichever thread gets there first."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from chalicelib.lazy import deferred


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A fresh package on sys.path, its modules forgotten afterwards."""
    name = f"lazy_{uuid.uuid4().hex}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, tmp_path / name
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def write(package: tuple[str, Path], module: str, body: str) -> str:
    name, path = package
    (path / f"{module}.py").write_text(body)
    return f"{name}.{module}"


def test_the_body_runs_at_the_first_attribute_read_and_the_module_becomes_a_plain_one(package) -> None:
    pkg = package[0]
    tally = __import__(write(package, "tally", "runs = []\n"), fromlist=["runs"])
    name = write(package, "routes", f"from {pkg} import tally\ntally.runs.append(1)\ndef hello():\n    return 'hi'\n")
    module = deferred(name)
    assert tally.runs == []
    assert sys.modules[name] is module
    assert sys.modules[pkg].routes is module  # bound on its package, as an import binds it
    __import__(name)  # importing it again neither runs it nor replaces it
    assert sys.modules[name] is module and tally.runs == []

    assert module.hello() == "hi"
    assert tally.runs == [1]
    assert type(module) is ModuleType  # from now on an attribute costs what it costs on any module
    assert module.hello() == "hi" and tally.runs == [1]


def test_a_module_imported_already_is_given_as_it_is(package) -> None:
    name = write(package, "eager", "VALUE = 1\n")
    module = __import__(name, fromlist=["VALUE"])
    assert deferred(name) is module


def test_an_unknown_module_fails_at_once(package) -> None:
    with pytest.raises(ModuleNotFoundError):
        deferred(f"{package[0]}.missing")


def test_a_missing_attribute_is_an_attribute_error_after_the_body_ran(package) -> None:
    module = deferred(write(package, "small", "VALUE = 1\n"))
    with pytest.raises(AttributeError):
        _ = module.nothing
    assert module.VALUE == 1


def test_threads_reading_first_all_wait_for_the_one_run(package) -> None:
    # The body takes a while, so the other threads arrive while it runs: each must see the finished module.
    name = write(package, "slow", "import time\nRUNS = [1]\ntime.sleep(0.2)\nVALUE = 42\n")
    module = deferred(name)
    start = threading.Barrier(8)
    seen: list[object] = []

    def read() -> None:
        start.wait()
        seen.append(module.VALUE)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [42] * 8
    assert module.RUNS == [1]  # run once: a second run would have made a new list


def test_threads_asking_for_the_same_module_at_once_get_one_module(package) -> None:
    name = write(package, "shared", "VALUE = 1\n")
    start = threading.Barrier(8)
    got: list[ModuleType] = []

    def ask() -> None:
        start.wait()
        got.append(deferred(name))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(module) for module in got}) == 1 and got[0] is sys.modules[name]


def test_a_body_that_fails_fails_its_reader_and_runs_again_at_the_next_read(package) -> None:
    pkg = package[0]
    switch = __import__(write(package, "switch", "ready = False\n"), fromlist=["ready"])
    module = deferred(write(package, "flaky", f"from {pkg} import switch\nif not switch.ready:\n"
                                              "    raise RuntimeError('not yet')\nVALUE = 7\n"))
    with pytest.raises(RuntimeError, match="not yet"):
        _ = module.VALUE
    switch.ready = True
    assert module.VALUE == 7


def test_a_body_reading_its_own_missing_name_gets_an_attribute_error_as_in_a_circular_import(package) -> None:
    pkg = package[0]
    write(package, "first", f"from {pkg} import second\nVALUE = 1\n")
    write(package, "second", f"from {pkg} import first\ntry:\n    SEEN = first.VALUE\nexcept AttributeError:\n"
                             "    SEEN = None\n")
    module = deferred(f"{pkg}.first")
    assert module.VALUE == 1
    assert sys.modules[f"{pkg}.second"].SEEN is None  # the half-run module, as an eager circular import shows it
