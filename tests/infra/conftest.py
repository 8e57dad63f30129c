"""Packages the app once per stage and session (`chalice package` + merge + infra.finalize), as `make package` does.

It packages a snapshot of the project in a temporary directory: Chalice keys its dependency cache
(.chalice/deployments) on the source files, so packaging the working tree would leave a ~20 MB zip there after
every code change, and files edited meanwhile could end up half in the package.
Packaging downloads Lambda-platform wheels from the package registry; without it the tests fail, never skip.
The figures (package time, zip size, cfn-lint warnings) are printed in the terminal summary of every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.finalize import Finalized, finalize, load

from .support import ROOT

CHALICE = Path(sys.executable).with_name("chalice")
FIGURES: list[str] = []


@dataclass
class Package:
    stage: str
    outdir: Path
    seconds: float
    finalized: Finalized
    template: dict[str, Any] = field(repr=False)


# What `chalice package --merge-template infra/resources.yaml` reads from the project.
PROJECT_FILES = ("app.py", "chalicelib", "vendor", "requirements.txt", ".chalice", "infra/resources.yaml")


def snapshot(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "venv")
    for name in PROJECT_FILES:
        src, target = ROOT / name, dest / name
        if src.is_dir():
            shutil.copytree(src, target, ignore=ignore)
        elif src.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def chalice_package(project: Path, stage: str, outdir: Path) -> Package:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OMNIMAN_") and k not in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - fixed command line
        [str(CHALICE), "package", "--stage", stage, "--merge-template", "infra/resources.yaml", str(outdir)],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, (
        f"chalice package --stage {stage} failed (it needs the package registry for Lambda wheels):\n"
        f"{proc.stdout}\n{proc.stderr}"
    )
    done = finalize(outdir)
    FIGURES.append(
        f"{stage}: chalice package {seconds:.1f} s; deployment.zip {done.bytes_before / 1e6:.1f} MB as packaged, "
        f"{done.bytes_after / 1e6:.2f} MB after infra.finalize (removed {', '.join(done.removed) or 'nothing'})"
    )
    return Package(stage, outdir, seconds, done, load(done.template))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Package]:
    """packaged(stage) -> the stage's finished package, built on first use."""
    built: dict[str, Package] = {}
    project: list[Path] = []

    def get(stage: str) -> Package:
        if not project:
            project.append(snapshot(tmp_path_factory.mktemp("project")))
        if stage not in built:
            built[stage] = chalice_package(project[0], stage, tmp_path_factory.mktemp(f"package-{stage}"))
        return built[stage]

    return get


@pytest.fixture(scope="session")
def figures() -> list[str]:
    """Lines for the terminal summary."""
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("omniman deployment package")
        for line in FIGURES:
            terminalreporter.write_line(line)
