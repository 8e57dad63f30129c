"""Finishes a `chalice package` output directory so it is safe to deploy:

1. removes from deployment.zip the packages the Lambda Python runtime already provides (botocore and its
   dependencies, pulled in through aws-xray-sdk). Bundled, they shadow the runtime's copies: the runtime's
   boto3 would then run on a different botocore, and the zip grows ~4x (mostly botocore's data files).
2. pins the template's Stage parameter to the stage the package was built for (Default and AllowedValues):
   Chalice bakes that stage's table and queue names into the functions, so deploying it with another Stage
   would wire the functions to another stage's resources. CloudFormation now refuses such a deploy.
3. ships bytecode: every Python file in the zip gets its `__pycache__/<name>.cpython-3XY.pyc` for the functions'
   runtime, compiled with `UNCHECKED_HASH` invalidation. Lambda's task directory is read-only, so without them
   Python compiles every module of the app again on every cold start (about twice the import time), and an
   unchecked-hash .pyc is used as it is, without even reading the source's modification time.

    python -m infra.finalize build/<stage>

Idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Top-level modules (and distribution names, for their .dist-info) the Lambda Python runtime ships with boto3.
# jmespath is kept: aws-lambda-powertools requires it directly.
RUNTIME_MODULES = frozenset({"boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py"})
RUNTIME_DISTRIBUTIONS = frozenset({"boto3", "botocore", "s3transfer", "urllib3", "python_dateutil", "six"})
TEMPLATE_NAMES = ("sam.yaml", "sam.json")
# Compiles the files named on stdin (relative to argv[1]) in the interpreter it runs in: the runtime's version.
_COMPILE = """
import importlib.util, py_compile, sys
root, failed = sys.argv[1], []
for rel in filter(None, sys.stdin.read().split("\\n")):
    source = root + "/" + rel
    try:
        py_compile.compile(source, cfile=importlib.util.cache_from_source(source), dfile=rel, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError:
        failed.append(rel)
print("\\n".join(failed))
"""


@dataclass(frozen=True)
class Finalized:
    stage: str
    template: Path
    zip_path: Path
    bytes_before: int
    bytes_after: int
    removed: tuple[str, ...]
    compiled: int = 0  # .pyc files added
    not_compiled: tuple[str, ...] = ()  # sources the runtime's Python cannot compile (never importable there)


def is_runtime_provided(name: str) -> bool:
    """Whether a zip entry belongs to a package the Lambda runtime provides."""
    top = name.split("/", 1)[0]
    if top in RUNTIME_MODULES:
        return True
    for suffix in (".dist-info", ".data"):
        if top.endswith(suffix):
            return top.removesuffix(suffix).rsplit("-", 1)[0].lower() in RUNTIME_DISTRIBUTIONS
    return False


def slim_zip(path: Path) -> tuple[str, ...]:
    """Rewrites the zip without runtime-provided packages; returns the top-level entries removed."""
    removed: set[str] = set()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                if is_runtime_provided(info.filename):
                    removed.add(info.filename.split("/", 1)[0])
                    continue
                dst.writestr(info, src.read(info), compress_type=info.compress_type)
        if removed:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return tuple(sorted(removed))


def runtime_version(template: dict[str, Any]) -> tuple[int, int]:
    """The Python version every packaged function runs on (`Runtime: python3.11`; they must all agree)."""
    runtimes = {res["Properties"].get("Runtime") for res in template["Resources"].values()
                if res.get("Type") == "AWS::Serverless::Function"}
    match = re.fullmatch(r"python(\d+)\.(\d+)", str(next(iter(runtimes)))) if len(runtimes) == 1 else None
    if match is None:
        raise ValueError(f"packaged functions disagree on a Python runtime: {sorted(map(str, runtimes))}")
    return int(match[1]), int(match[2])


def pyc_name(source: str, version: tuple[int, int]) -> str:
    """Where CPython `version` looks for a source's bytecode: `pkg/__pycache__/mod.cpython-311.pyc`."""
    folder, _, file = source.rpartition("/")
    cached = f"__pycache__/{file.removesuffix('.py')}.cpython-{version[0]}{version[1]}.pyc"
    return f"{folder}/{cached}" if folder else cached


def compiler_for(version: tuple[int, int]) -> str:
    """An interpreter of the runtime's version: bytecode only loads in the version that wrote it."""
    if sys.implementation.name == "cpython" and sys.version_info[:2] == version:
        return sys.executable
    found = shutil.which(f"python{version[0]}.{version[1]}")
    if found is None:
        raise RuntimeError(f"compiling the package's bytecode needs Python {version[0]}.{version[1]}, the functions' "
                           "runtime: run `make package` with it (Chalice packages for the version it runs on)")
    return found


def compile_zip(path: Path, version: tuple[int, int]) -> tuple[int, tuple[str, ...]]:
    """Adds the bytecode of every .py in the zip that has none yet; returns how many were added and the sources
    that do not compile under `version` (left as they are: they could not be imported there either)."""
    with tempfile.TemporaryDirectory(prefix="omniman-pyc-") as tmp:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            todo = sorted(n for n in names if n.endswith(".py") and pyc_name(n, version) not in names)
            dated = {name: zf.getinfo(name).date_time for name in todo}
            for name in todo:
                zf.extract(name, tmp)
        if not todo:
            return 0, ()
        # -I: no PYTHONPYCACHEPREFIX or other environment may send the bytecode anywhere but beside its source.
        proc = subprocess.run([compiler_for(version), "-I", "-c", _COMPILE, tmp],  # noqa: S603
                              input="\n".join(todo), capture_output=True, text=True, timeout=600, check=True)
        failed = set(filter(None, proc.stdout.splitlines()))
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as out:
            for name in todo:
                if name in failed:
                    continue
                # Dated like their source, so the same sources always make the same zip entries.
                info = zipfile.ZipInfo(pyc_name(name, version), date_time=dated[name])
                info.external_attr = 0o644 << 16
                out.writestr(info, (Path(tmp) / pyc_name(name, version)).read_bytes(), zipfile.ZIP_DEFLATED)
    return len(todo) - len(failed), tuple(sorted(failed))


def find_template(outdir: Path) -> Path:
    for name in TEMPLATE_NAMES:
        if (outdir / name).is_file():
            return outdir / name
    raise FileNotFoundError(f"no {' or '.join(TEMPLATE_NAMES)} in {outdir}: run `chalice package` first")


def load(path: Path) -> dict[str, Any]:
    # Chalice writes intrinsics in their long form (Fn::Sub:), so plain YAML/JSON loaders read it.
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def dump(template: dict[str, Any], path: Path) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(template, indent=2) + "\n")
    else:
        path.write_text(yaml.safe_dump(template, sort_keys=False, default_flow_style=False, width=120))


def packaged_stage(template: dict[str, Any]) -> str:
    """The OMNIMAN_STAGE every packaged function carries (they must all agree)."""
    stages = {
        res["Properties"].get("Environment", {}).get("Variables", {}).get("OMNIMAN_STAGE")
        for res in template["Resources"].values()
        if res.get("Type") == "AWS::Serverless::Function"
    }
    if len(stages) != 1 or None in stages:
        raise ValueError(f"packaged functions disagree on OMNIMAN_STAGE: {sorted(map(str, stages))}")
    return stages.pop()


def pin_stage(template: dict[str, Any]) -> str:
    stage = packaged_stage(template)
    param = template["Parameters"]["Stage"]
    param["Default"] = stage
    param["AllowedValues"] = [stage]
    param.pop("AllowedPattern", None)  # AllowedValues is stricter
    return stage


def finalize(outdir: Path) -> Finalized:
    template_path = find_template(outdir)
    template = load(template_path)
    stage = pin_stage(template)
    dump(template, template_path)
    zip_path = outdir / "deployment.zip"
    before = zip_path.stat().st_size
    removed = slim_zip(zip_path)
    compiled, not_compiled = compile_zip(zip_path, runtime_version(template))
    return Finalized(stage, template_path, zip_path, before, zip_path.stat().st_size, removed, compiled,
                     not_compiled)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.finalize <chalice package output dir>", file=sys.stderr)
        return 2
    done = finalize(Path(argv[0]))
    print(f"{done.template}: Stage pinned to {done.stage!r}")
    print(f"{done.zip_path}: {done.bytes_before / 1e6:.1f} MB -> {done.bytes_after / 1e6:.1f} MB"
          + (f" (removed runtime-provided {', '.join(done.removed)})" if done.removed else "")
          + (f"; bytecode added for {done.compiled} modules" if done.compiled else ""))
    if done.not_compiled:
        print(f"not compiled (a syntax the runtime's Python refuses): {', '.join(done.not_compiled)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
