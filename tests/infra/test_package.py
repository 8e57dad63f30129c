"""The deployable artefact: the merged SAM template per stage lints clean, carries the patches Chalice cannot
express, matches .chalice/config.json, and the zip holds the runtime code only and imports on its own."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra.finalize import compile_zip, is_runtime_provided, pyc_name, runtime_version

from .support import (
    STAGES,
    TABLE_VARS,
    WORKER_QUEUES,
    Resolver,
    function_setting,
    logical_id,
    stage_config,
    stage_env,
)

# What Chalice must package for the functions' runtime (python3.11, x86_64).
LAMBDA_EXTENSION_SUFFIX = ".cpython-311-x86_64-linux-gnu.so"
RUNTIME = (3, 11)
# PEP 552: a hash-based .pyc whose source is never checked (flags bit 0 set, bit 1 clear).
UNCHECKED_HASH_FLAGS = 0b01

# Test and tooling packages that must never reach the Lambda, and what the runtime provides itself.
FORBIDDEN_TOP_LEVEL = {"moto", "pytest", "_pytest", "cfnlint", "cfn_lint", "boto3", "botocore", "s3transfer",
                       "samtranslator", "ruff", "click", "pip", "setuptools", "yaml", "devstack", "tests",
                       "benchmarks", "infra"}
# W1028 "Fn::If branch not reachable": infra.finalize pins Stage to one value, so `!If [IsProd, ...]` has one
# reachable branch per package. That is the point of pinning.
EXPECTED_WARNINGS = {"W1028": "Stage pinned"}
REQUIRED_TOP_LEVEL = {"app.py", "chalicelib", "chalice", "aws_lambda_powertools", "aws_xray_sdk", "pydantic",
                      "pydantic_core"}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == "AWS::Serverless::Function"}


def sqs_events(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, event["Properties"]) for name, res in functions(template).items()
            for event in res["Properties"].get("Events", {}).values() if event["Type"] == "SQS"]


@pytest.mark.parametrize("stage", STAGES)
def test_packaged_template_passes_cfn_lint(packaged, figures: list[str], stage: str) -> None:
    pkg = packaged(stage)
    proc = subprocess.run(  # noqa: S603 - fixed command line
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", "--", str(pkg.finalized.template)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    findings = [line for line in proc.stdout.splitlines() if line.strip()]
    errors = [line for line in findings if re.search(r":E\d{4}:", line)]
    # cfn-lint exits with a bitmask: 2 errors, 4 warnings, 8 informational; 1 means it could not run.
    assert proc.returncode & 0b11 == 0 and not errors, f"cfn-lint errors:\n{proc.stdout}{proc.stderr}"
    expected = [line for line in findings if any(f":{rule}:" in line for rule in EXPECTED_WARNINGS)]
    assert findings == expected, "cfn-lint warnings:\n" + "\n".join(line for line in findings if line not in expected)
    figures.append(f"{stage}: cfn-lint on the packaged template: 0 errors, {len(findings) - len(expected)} warning(s)"
                   f" (+{len(expected)} expected: {', '.join(EXPECTED_WARNINGS)})"
                   + "".join(f"\n    {line}" for line in findings if line not in expected))


@pytest.mark.parametrize("stage", STAGES)
def test_sqs_event_sources_report_batch_item_failures(packaged, stage: str) -> None:
    """The patches in infra/resources.yaml reached every SQS event source Chalice generated."""
    template = packaged(stage).template
    resolve = Resolver(template, {"Stage": stage}).value
    events = sqs_events(template)
    assert {name for name, _ in events} == {logical_id(worker) for worker in WORKER_QUEUES}
    for name, props in events:
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert props["BatchSize"] == 10, name
        # At most the reserved concurrency, or throttled batches go back to the queue and burn receives.
        reserved = functions(template)[name]["Properties"]["ReservedConcurrentExecutions"]
        assert resolve(props["ScalingConfig"]["MaximumConcurrency"]) == reserved, name


@pytest.mark.parametrize("stage", STAGES)
def test_workers_consume_the_queues_the_template_creates(packaged, stage: str) -> None:
    template = packaged(stage).template
    resolve = Resolver(template, {"Stage": stage}).value
    env = stage_env(stage)
    queue_names = {resolve(res["Properties"]["QueueName"]): name for name, res in template["Resources"].items()
                   if res["Type"] == "AWS::SQS::Queue"}
    for worker, var in WORKER_QUEUES.items():
        fn = template["Resources"][logical_id(worker)]
        (event,) = fn["Properties"]["Events"].values()
        arn = resolve(event["Properties"]["Queue"])
        assert arn == f"arn:aws:sqs:us-east-1:123456789012:{env[var]}", worker
        # CloudFormation must create the queue before the event source mapping (Chalice names it by string).
        assert queue_names[env[var]] in fn["DependsOn"], worker


@pytest.mark.parametrize("stage", STAGES)
def test_functions_carry_the_stage_settings(packaged, stage: str) -> None:
    """Every function named in config.json exists (a typo there is silently ignored by Chalice) with its settings."""
    pkg = packaged(stage)
    fns = functions(pkg.template)
    resolve = Resolver(pkg.template, {"Stage": stage}).value
    for function in ("api_handler", *stage_config(stage).get("lambda_functions", {})):
        assert logical_id(function) in fns, f"config.json names {function!r}, the app has no such function"
        props = fns[logical_id(function)]["Properties"]
        assert props["Timeout"] == function_setting(stage, function, "lambda_timeout", 60), function
        assert props["MemorySize"] == function_setting(stage, function, "lambda_memory_size", 128), function
        assert props.get("ReservedConcurrentExecutions") == function_setting(
            stage, function, "reserved_concurrency"), function
        # The search index bucket's name holds the account id: the template passes it to the functions that use it.
        search = {"OMNIMAN_SEARCH_BUCKET": {"Ref": "SearchIndexBucket"}} if function in (
            "api_handler", "directive_worker") else {}
        assert props["Environment"]["Variables"] == {**stage_env(stage), **search}, function
        assert props["Tracing"] == "Active", function
        # Logs go to the stack's own group (with retention), under the prefix the IAM policy allows.
        group = pkg.template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup", function
        assert resolve(group["Properties"]["LogGroupName"]).startswith(f"/aws/lambda/omniman-{stage}-"), function
        assert resolve(group["Properties"]["RetentionInDays"]) > 0, function
        for var in (*TABLE_VARS, *WORKER_QUEUES.values()):
            assert props["Environment"]["Variables"][var], var
    relay = fns[logical_id("outbox_relay")]["Properties"]["Events"]
    assert [e["Properties"]["Schedule"] for e in relay.values() if e["Type"] == "Schedule"] == ["rate(1 minute)"]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_is_pinned_and_the_api_is_traced_with_its_url_in_outputs(packaged, stage: str) -> None:
    template = packaged(stage).template
    assert template["Parameters"]["Stage"]["Default"] == stage
    assert template["Parameters"]["Stage"]["AllowedValues"] == [stage]
    assert "EndpointURL" in template["Outputs"]  # docs/deploy.md tells users to read it
    assert template["Resources"]["RestAPI"]["Properties"]["TracingEnabled"] is True


def test_deployment_zip_holds_runtime_code_only(packaged, figures: list[str]) -> None:
    pkg = packaged(STAGES[0])
    with zipfile.ZipFile(pkg.finalized.zip_path) as zf:
        names = zf.namelist()
        unpacked = sum(info.file_size for info in zf.infolist())
    top = {name.split("/", 1)[0] for name in names}
    assert not top & FORBIDDEN_TOP_LEVEL, f"test/tooling packages in the zip: {sorted(top & FORBIDDEN_TOP_LEVEL)}"
    assert not [name for name in names if is_runtime_provided(name)]
    assert top >= REQUIRED_TOP_LEVEL, f"missing from the zip: {sorted(REQUIRED_TOP_LEVEL - top)}"
    assert not [n for n in names if n.startswith(".chalice/")]
    size = pkg.finalized.zip_path.stat().st_size
    figures.append(f"deployment.zip ({pkg.stage}): {size:,} bytes zipped, {unpacked:,} bytes unzipped, "
                   f"{len(names)} files ({pkg.finalized.compiled} compiled by infra.finalize)")
    assert size < 10_000_000, "the zip grew past 10 MB: check requirements.txt for new heavy dependencies"


def test_deployment_zip_ships_the_operator_console(packaged) -> None:
    """The console is served by the Lambda itself: every file of it is in the zip, byte for byte."""
    static = Path(__file__).resolve().parents[2] / "chalicelib" / "console" / "static"
    files = sorted(p.name for p in static.iterdir() if p.is_file())
    assert {"index.html", "app.js", "console.css"} <= set(files)
    with zipfile.ZipFile(packaged(STAGES[0]).finalized.zip_path) as zf:
        for name in files:
            assert zf.read(f"chalicelib/console/static/{name}") == (static / name).read_bytes(), name


def test_deployment_zip_ships_the_runtimes_bytecode_for_every_module(packaged) -> None:
    """Lambda's task directory is read-only: without these, every cold start compiles the whole app again."""
    pkg = packaged(STAGES[0])
    assert runtime_version(pkg.template) == RUNTIME
    with zipfile.ZipFile(pkg.finalized.zip_path) as zf:
        names = set(zf.namelist())
        sources = {n for n in names if n.endswith(".py")} - set(pkg.finalized.not_compiled)
        compiled = {n for n in names if n.endswith(".pyc")}
        assert compiled == {pyc_name(n, RUNTIME) for n in sources}  # one each, nothing from another Python
        for name in ("__pycache__/app.cpython-311.pyc", "chalicelib/__pycache__/bootstrap.cpython-311.pyc"):
            header = zf.read(name)[:8]
            assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH_FLAGS, name
            if sys.version_info[:2] == RUNTIME:
                assert header[:4] == importlib.util.MAGIC_NUMBER, name
    assert pkg.finalized.compiled > 500 and not pkg.finalized.not_compiled


def test_finalize_compiles_a_zip_once_and_reports_what_the_runtime_cannot_compile(tmp_path: Path) -> None:
    # make package compiles with the functions' runtime, Python 3.11; the project's machines and CI have it.
    assert sys.version_info[:2] == RUNTIME or shutil.which("python3.11"), "Python 3.11 is needed to package"
    zip_path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("app.py", "import pkg\n")
        zf.writestr("pkg/__init__.py", "X = 1\n")
        zf.writestr("pkg/legacy.py", "print 'a Python 2 file nobody imports'\n")
    assert compile_zip(zip_path, RUNTIME) == (2, ("pkg/legacy.py",))
    before = zip_path.read_bytes()
    assert compile_zip(zip_path, RUNTIME) == (0, ("pkg/legacy.py",))  # idempotent: nothing is added twice
    assert zip_path.read_bytes() == before
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(n for n in zf.namelist() if n.endswith(".pyc")) == [
            "__pycache__/app.cpython-311.pyc", "pkg/__pycache__/__init__.cpython-311.pyc"]


def test_deployment_zip_imports_with_only_the_lambda_runtime(packaged, tmp_path: Path) -> None:
    """Unzipped beside nothing but what the runtime provides (boto3 & co), app.py imports: nothing is missing.

    The compiled modules must be built for Lambda's python3.11 x86_64 runtime; that is checked on any host. The
    import itself needs a host that can load them (x86_64 CPython 3.11, as the project's machines and CI are).
    """
    pkg = packaged(STAGES[0])
    with zipfile.ZipFile(pkg.finalized.zip_path) as zf:
        compiled = [n for n in zf.namelist() if n.endswith(".so")]
    assert compiled, "pydantic-core's compiled module is missing from the zip"
    assert all(n.endswith(LAMBDA_EXTENSION_SUFFIX) for n in compiled), compiled
    if platform.machine() != "x86_64" or sys.version_info[:2] != (3, 11):
        return  # the binaries above cannot load here; their platform tags are what could be verified
    task, runtime = tmp_path / "task", tmp_path / "runtime"
    with zipfile.ZipFile(pkg.finalized.zip_path) as zf:
        zf.extractall(task)
    runtime.mkdir()
    site = Path(__import__("botocore").__file__).parents[1]
    for name in ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py", "jmespath"):
        (runtime / name).symlink_to(site / name)
    # The shipped bytecode is what runs: with unchecked-hash .pyc files the source is never read, so a source
    # broken after packaging still imports. (Only where the bytecode can load: the runtime's Python.)
    (task / "chalicelib" / "__init__.py").write_text("raise RuntimeError('imported from source')\n")
    # Tracing is off outside Lambda, so the X-Ray SDK is not imported with the app; it is in the zip for when it is.
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import app; "
            "assert app.app.routes and 'botocore' in sys.modules and 'aws_xray_sdk' not in sys.modules; "
            "import aws_xray_sdk.core")
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", **stage_env(pkg.stage)}
    # -S: no site-packages, -B: no .pyc writes (as on Lambda's read-only /var/task)
    proc = subprocess.run([sys.executable, "-S", "-B", "-c", code, str(task), str(runtime)],  # noqa: S603
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
