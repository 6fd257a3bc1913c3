#!/usr/bin/env bash
# Build .build/lambda.zip, the one artifact serverless.yml deploys to every function: the project's code
# (newsletter/, subscribers/*.toml) plus its locked Python dependencies as Lambda wheels (python3.11, arm64).
# Wheels only, for the Lambda platform, straight from the package index: no Docker, no compiler, the same
# result on any machine. (A Lambda layer would be neater, but osls asks CloudFormation about a layer's last
# version even when only packaging, and packaging must work with no AWS account.)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
rm -rf .build/bundle .build/lambda.zip && mkdir -p .build/bundle
# The locked versions (requirements.lock, refreshed by scripts/lock.sh): the same commit ships the same SDKs on
# any day, and every wheel's sha256 is checked.
# The python3.11 runtime is Amazon Linux 2 (glibc 2.26): a wheel built for any manylinux up to 2.26 runs there, and
# pip takes only the platform tags it is given, so every one of them is named (css-inline ships manylinux_2_24).
platforms=()
for minor in $(seq 17 26); do platforms+=(--platform "manylinux_2_${minor}_aarch64"); done
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-warn-conflicts \
  --root-user-action=ignore --target .build/bundle --require-hashes --requirement requirements.lock \
  --platform manylinux2014_aarch64 "${platforms[@]}" --implementation cp --python-version 3.11 --only-binary=:all:
"$PYTHON" - <<'PY'
import pathlib, zipfile

# Sorted entries and a fixed timestamp: the same sources give the same zip, so osls skips unchanged uploads.
root = pathlib.Path(".build/bundle")
sources = [(p, p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file()]
for top in ("newsletter", "templates", "subscribers"):
    sources += [(p, p.as_posix()) for p in pathlib.Path(top).rglob("*") if p.is_file()]
skip = lambda name: "__pycache__/" in name or name.endswith(".pyc") or (name.startswith("subscribers/") and not name.endswith(".toml"))
with zipfile.ZipFile(".build/lambda.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
    for path, name in sorted(sources, key=lambda item: item[1]):
        if skip(name):
            continue
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())
size = pathlib.Path(".build/lambda.zip").stat().st_size
print(f"lambda.zip: {size / 1e6:.1f} MB, {len(archive.namelist())} files")
PY
