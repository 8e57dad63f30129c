"""Cold start and package figures: `import app` beside a hello-world Chalice app, the biggest imports, the zip size.

Each import runs in a fresh interpreter with the benchmark stage's environment, the two apps taking turns so a
busy machine slows both alike; the figure is the median of the run-by-run ratios (each app run over the hello-world
run right after it), timed inside the interpreter (so Python's own start-up, the same for both, is left out) in CPU
time: an import is CPU work (its files are in the page cache), and on a shared machine the wall clock adds the time
the process waited for a core, which depends on whatever else runs (on two cores shared by several jobs, the same
import's wall time varies twofold). The wall-clock medians are reported beside it. Bytecode is cached in a
temporary directory (PYTHONPYCACHEPREFIX) warmed by one unmeasured run of each, so neither app pays for compiling
and the working tree gets no __pycache__ directories: that is how the deployed app starts, since infra.finalize
ships the bytecode in the zip. One more figure leaves the code the zip ships (ours and its dependencies)
uncompiled, as a package without .pyc files would start on Lambda, where only the runtime's boto3 comes compiled.

Run alone with `.venv/bin/python -m benchmarks.coldstart`.
"""

from __future__ import annotations

import importlib.metadata
import io
import os
import py_compile
import re
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
# Each app's median settles at about 15 runs on two shared cores (at 7 it moved by +-0.15x from one run to the next).
RUNS = 15
TIMED_IMPORT = ("import time; w, c = time.perf_counter(), time.process_time(); import app; "
                "print(time.process_time() - c, time.perf_counter() - w)")
# What `import app` spends, phase by phase (CPU time): the modules, building the Hub (clients, stores), the rest.
PHASES = ("import time; t0 = time.process_time(); import chalicelib.bootstrap as b; t1 = time.process_time(); "
          "b.hub(); t2 = time.process_time(); import app; t3 = time.process_time(); print(t1 - t0, t2 - t1, t3 - t2)")
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
    app_seconds: float  # CPU time, median
    hello_seconds: float
    app_wall_seconds: float  # wall clock, median
    hello_wall_seconds: float
    pair_ratios: tuple[float, ...]  # each app run over the hello-world run right after it, sorted
    uncompiled_seconds: float
    phases: tuple[float, float, float]  # modules, hub(), the rest of app.py
    runs: int

    @property
    def ratio(self) -> float:
        """The median of the run-by-run ratios: a pair runs back to back, so a change of load between runs cancels
        out of its ratio, and a burst that slows one pair moves the median little (the ratio of the two medians
        moves whenever a burst lands on more runs of one app than of the other)."""
        return statistics.median(self.pair_ratios)

    @property
    def wall_ratio(self) -> float:
        return self.app_wall_seconds / self.hello_wall_seconds

    @property
    def spread(self) -> tuple[float, float]:
        """The middle half of the run-by-run ratios (their quartiles): how much one run's load moved the figure."""
        quartiles = statistics.quantiles(self.pair_ratios, n=4)
        return quartiles[0], quartiles[2]


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
        app_runs, hello_runs = [], []
        for _ in range(runs):
            app_runs.append(_timed(PROJECT, warm))
            hello_runs.append(_timed(hello, warm))
        uncompiled = [_timed(PROJECT, cold)[0] for _ in range(3)]
        modules, build, rest = (float(x) for x in _python(PHASES, PROJECT, warm).stdout.split())
    median = statistics.median
    return ColdStart(median(cpu for cpu, _ in app_runs), median(cpu for cpu, _ in hello_runs),
                     median(wall for _, wall in app_runs), median(wall for _, wall in hello_runs),
                     tuple(sorted(a[0] / h[0] for a, h in zip(app_runs, hello_runs, strict=True))),
                     median(uncompiled), (modules, build, rest), runs)


def _timed(cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """`import app` in a fresh interpreter: (CPU seconds, wall seconds)."""
    cpu, wall = _python(TIMED_IMPORT, cwd, env).stdout.split()
    return float(cpu), float(wall)


def instructions() -> tuple[int, int] | None:
    """Instructions each app's import executes (valgrind's callgrind; None without valgrind): (app, hello world).

    The same on a busy machine as on an idle one, where times are not; slow (a minute or two), so `make bench` leaves
    it out (`python -m benchmarks.coldstart --instructions`). Each count is a fresh interpreter's minus a bare one's,
    both ending with os._exit so that neither counts the interpreter's shutdown.
    """
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="omniman-bench-") as tmp:
        hello = Path(tmp) / "hello"
        hello.mkdir()
        (hello / "app.py").write_text(HELLO_WORLD)
        env = {**_env(str(Path(tmp) / "pycache")), "PYTHONHASHSEED": "0"}

        def count(code: str, cwd: Path) -> int:
            code += "; import os; os._exit(0)"
            _python(code, cwd, env)  # compiles into the cache first
            proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.out",
                                   "--cache-sim=no", sys.executable, "-c", code], cwd=cwd, env=env,
                                  capture_output=True, text=True, timeout=900, check=True)
            found = re.search(r"Collected : (\d+)", proc.stderr)
            if found is None:
                raise RuntimeError(f"no instruction count from valgrind:\n{proc.stderr[-2000:]}")
            return int(found.group(1))

        bare = count("pass", PROJECT)
        return count("import app", PROJECT) - bare, count("import app", hello) - bare


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
    if "--instructions" in sys.argv[1:]:
        counts = instructions()
        if counts is None:
            print("valgrind is not installed")
        else:
            print(f"instructions: import app {counts[0] / 1e6:,.0f} M, hello world {counts[1] / 1e6:,.0f} M: "
                  f"{counts[0] / counts[1]:.2f}x")
        return
    cold = measure()
    low, high = cold.spread
    print(f"import app / hello world: {cold.ratio:.2f}x (CPU time, the median run-by-run ratio; quartiles "
          f"{low:.2f}-{high:.2f}x; medians {cold.app_seconds * 1000:.0f} vs {cold.hello_seconds * 1000:.0f} ms); "
          f"wall clock {cold.app_wall_seconds * 1000:.0f} vs {cold.hello_wall_seconds * 1000:.0f} ms, "
          f"{cold.wall_ratio:.2f}x (uncompiled {cold.uncompiled_seconds * 1000:.0f} ms)")
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
