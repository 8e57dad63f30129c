"""Finishes a `chalice package` output directory so it is safe to deploy:

1. removes from deployment.zip the packages the Lambda Python runtime already provides (botocore and its
   dependencies, pulled in through aws-xray-sdk). Bundled, they shadow the runtime's copies: the runtime's
   boto3 would then run on a different botocore, and the zip grows ~4x (mostly botocore's data files).
2. pins the template's Stage parameter to the stage the package was built for (Default and AllowedValues):
   Chalice bakes that stage's table and queue names into the functions, so deploying it with another Stage
   would wire the functions to another stage's resources. CloudFormation now refuses such a deploy.

    python -m infra.finalize build/<stage>

Idempotent: running it twice changes nothing the second time.
"""

from __future__ import annotations

import json
import os
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


@dataclass(frozen=True)
class Finalized:
    stage: str
    template: Path
    zip_path: Path
    bytes_before: int
    bytes_after: int
    removed: tuple[str, ...]


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
    return Finalized(stage, template_path, zip_path, before, zip_path.stat().st_size, removed)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.finalize <chalice package output dir>", file=sys.stderr)
        return 2
    done = finalize(Path(argv[0]))
    print(f"{done.template}: Stage pinned to {done.stage!r}")
    print(f"{done.zip_path}: {done.bytes_before / 1e6:.1f} MB -> {done.bytes_after / 1e6:.1f} MB"
          + (f" (removed runtime-provided {', '.join(done.removed)})" if done.removed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
