"""Cold start and package figures: `import app` beside a hello-world Chalice app, the biggest imports, the zip size.

Each import runs in a fresh interpreter with the benchmark stage's environment, the two apps taking turns so a
busy machine slows both alike; the figure is the median of the runs, timed inside the interpreter (so Python's
own start-up, the same for both, is left out). Bytecode is cached in a temporary directory
(PYTHONPYCACHEPREFIX) warmed by one unmeasured run of each, so neither app pays for compiling and the working
tree gets no __pycache__ directories: that is how the deployed app starts, since infra.finalize ships the
bytecode in the zip. One more figure leaves the code the zip ships (ours and its dependencies) uncompiled, as a
package without .pyc files would start on Lambda, where only the runtime's boto3 comes compiled.

Run alone with `.venv/bin/python -m benchmarks.coldstart`.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from benchmarks.emulated import BENCH_ENV
from infra.finalize import is_runtime_provided, pyc_name

PROJECT = Path(__file__).resolve().parent.parent
RUNS = 7
TIMED_IMPORT = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
# What `import app` spends, phase by phase: the modules, building the Hub (clients, stores), the app module's rest.
PHASES = ("import time; t0 = time.perf_counter(); import chalicelib.bootstrap as b; t1 = time.perf_counter(); "
          "b.hub(); t2 = time.perf_counter(); import app; t3 = time.perf_counter(); print(t1 - t0, t2 - t1, t3 - t2)")
HELLO_WORLD = '''"""The baseline: a Chalice app that imports boto3 and makes a DynamoDB client."""
import boto3
from chalice import Chalice

app = Chalice(app_name="hello")
dynamodb = boto3.client("dynamodb")


@app.route("/")
def index():
    return {"hello": "world"}
'''


@dataclass(frozen=True)
class ColdStart:
    app_seconds: float
    hello_seconds: float
    uncompiled_seconds: float
    phases: tuple[float, float, float]  # modules, hub(), the rest of app.py
    runs: int

    @property
    def ratio(self) -> float:
        return self.app_seconds / self.hello_seconds


@dataclass(frozen=True)
class Import:
    module: str
    depth: int
    self_us: int
    cumulative_us: int


@dataclass(frozen=True)
class Package:
    zipped_bytes: int
    unzipped_bytes: int
    files: int


def _env(pycache: str, *, write_bytecode: bool = True) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIMAN_", "AWS_", "POWERTOOLS_", "PYTHON"))}
    env = {**keep, **BENCH_ENV, "PYTHONPYCACHEPREFIX": pycache}
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _python(code: str, cwd: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, *flags, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"`{code}` failed in {cwd}:\n{proc.stderr[-2000:]}")
    return proc


def measure(runs: int = RUNS) -> ColdStart:
    with tempfile.TemporaryDirectory(prefix="omniman-bench-") as tmp:
        hello = Path(tmp) / "hello"
        hello.mkdir()
        (hello / "app.py").write_text(HELLO_WORLD)
        warm_cache, cold_cache = Path(tmp) / "pycache", Path(tmp) / "pycache-runtime-only"
        warm, cold = _env(str(warm_cache)), _env(str(cold_cache), write_bytecode=False)
        # Warm-up: compiles every module either app imports into the cache.
        _python(TIMED_IMPORT, PROJECT, warm)
        _python(TIMED_IMPORT, hello, warm)
        # The same cache without what the zip ships: the standard library and boto3 & co stay compiled.
        shutil.copytree(warm_cache, cold_cache)
        for root in _shipped_roots():
            cached = cold_cache / root.relative_to(root.anchor)  # a prefix cache mirrors the source tree
            if root.is_dir():
                shutil.rmtree(cached, ignore_errors=True)
            else:
                for pyc in cached.parent.glob(f"{root.stem}.*.pyc"):
                    pyc.unlink()
        app_times, hello_times = [], []
        for _ in range(runs):
            app_times.append(float(_python(TIMED_IMPORT, PROJECT, warm).stdout))
            hello_times.append(float(_python(TIMED_IMPORT, hello, warm).stdout))
        uncompiled = [float(_python(TIMED_IMPORT, PROJECT, cold).stdout) for _ in range(3)]
        modules, build, rest = (float(x) for x in _python(PHASES, PROJECT, warm).stdout.split())
    return ColdStart(statistics.median(app_times), statistics.median(hello_times), statistics.median(uncompiled),
                     (modules, build, rest), runs)


def import_profile() -> list[Import]:
    """`python -X importtime -c "import app"`, every module it reports (its own overhead inflates the figures)."""
    with tempfile.TemporaryDirectory(prefix="omniman-bench-") as tmp:
        env = _env(str(Path(tmp) / "pycache"))
        _python("import app", PROJECT, env)  # compile first: the profile is of importing, not of compiling
        stderr = _python("import app", PROJECT, env, "-X", "importtime").stderr
    found = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        found.append(Import(name.strip(), (len(name) - len(name.lstrip()) - 1) // 2, int(self_us), int(cumulative_us)))
    return found


def by_package(imports: list[Import]) -> list[tuple[str, int]]:
    """Self time summed per top-level package, largest first: where the import time goes, whoever imports it."""
    totals: dict[str, int] = defaultdict(int)
    for imp in imports:
        totals[imp.module.split(".", 1)[0]] += imp.self_us
    return sorted(totals.items(), key=lambda kv: -kv[1])


def package() -> Package:
    """The deployment zip as `make package` builds it, estimated from this venv: app.py, chalicelib, Chalice's
    runtime module and the requirements with their dependencies, minus what the Lambda runtime provides (as
    infra.finalize removes it), plus the bytecode infra.finalize compiles for every module (unchecked-hash .pyc
    files, written here by this interpreter: the venv's Python is the functions' 3.11). This venv's wheels are for
    this machine (x86_64 Linux, CPython 3.11), as the packaged ones are; `tests/infra` builds the real zip and
    holds it under 10 MB too."""
    buffer = io.BytesIO()
    files = unzipped = 0
    version = sys.version_info[:2]
    with tempfile.TemporaryDirectory(prefix="omniman-bench-pyc-") as tmp, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, path in _package_files():
            entries = [(arcname, path)]
            if arcname.endswith(".py"):
                pyc = Path(tmp) / pyc_name(arcname, (version[0], version[1]))
                try:
                    py_compile.compile(str(path), cfile=str(pyc), dfile=arcname, doraise=True,
                                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                    entries.append((pyc_name(arcname, (version[0], version[1])), pyc))
                except py_compile.PyCompileError:
                    pass  # infra.finalize leaves such a source uncompiled too
            for name, file in entries:
                zf.write(file, name)
                files += 1
                unzipped += file.stat().st_size
    return Package(len(buffer.getvalue()), unzipped, files)


def _package_files() -> Iterator[tuple[str, Path]]:
    yield "app.py", PROJECT / "app.py"
    for path in sorted((PROJECT / "chalicelib").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield str(path.relative_to(PROJECT)), path
    chalice = importlib.metadata.distribution("chalice")
    for name in ("chalice/__init__.py", "chalice/app.py"):  # all of Chalice a deployed function imports
        yield name, Path(str(chalice.locate_file(name)))
    for dist in _closure(PROJECT / "requirements.txt"):
        for file in dist.files or []:
            arcname = str(file)
            if arcname.startswith("..") or "__pycache__" in arcname or is_runtime_provided(arcname):
                continue
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                yield arcname, path


def _shipped_roots() -> set[Path]:
    """The directories (or single-file modules' directories) the zip's code lives in, in this venv."""
    roots: set[Path] = set()
    for arcname, path in _package_files():
        parts = Path(arcname).parts
        if len(parts) == 1:
            roots.add(path)  # a top-level module
        else:
            roots.add(Path(str(path)[: -len(arcname)]) / parts[0])
    return roots


def _closure(requirements: Path) -> list[importlib.metadata.Distribution]:
    wanted = [Requirement(line.split("#", 1)[0].strip()) for line in requirements.read_text().splitlines()
              if line.split("#", 1)[0].strip()]
    seen: dict[str, importlib.metadata.Distribution] = {}
    while wanted:
        req = wanted.pop()
        key = req.name.lower().replace("_", "-")
        if key in seen:
            continue
        dist = importlib.metadata.distribution(req.name)
        seen[key] = dist
        for spec in dist.requires or []:
            dep = Requirement(spec)
            extras = req.extras or {""}
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                wanted.append(dep)
    return list(seen.values())


def main() -> None:
    cold = measure()
    print(f"import app {cold.app_seconds * 1000:.0f} ms, hello world {cold.hello_seconds * 1000:.0f} ms: "
          f"{cold.ratio:.2f}x (uncompiled {cold.uncompiled_seconds * 1000:.0f} ms)")
    print("phases (modules, hub(), rest):", ", ".join(f"{p * 1000:.0f} ms" for p in cold.phases))
    imports = import_profile()
    for imp in sorted((i for i in imports if i.module != "app"), key=lambda i: -i.cumulative_us)[:10]:
        print(f"  {'  ' * imp.depth}{imp.module}: {imp.cumulative_us / 1000:.0f} ms cumulative")
    print("by package:", ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in by_package(imports)[:8]))
    pkg = package()
    print(f"deployment zip ~{pkg.zipped_bytes / 1e6:.1f} MB ({pkg.unzipped_bytes / 1e6:.1f} MB unzipped, "
          f"{pkg.files} files)")


if __name__ == "__main__":
    main()
