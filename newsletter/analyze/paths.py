"""What kind of file a path is, by name alone: used by the heuristic analyzer and by the diff budget."""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from pathlib import PurePosixPath


class Kind(StrEnum):
    SOURCE = "source"
    TEST = "test"
    EXAMPLE = "example"  # examples, samples, benchmarks: read by users, not run by them
    DOCS = "docs"
    CI = "ci"
    BUILD = "build"
    LOCKFILE = "lockfile"
    GENERATED = "generated"
    VENDORED = "vendored"
    BINARY = "binary"


LOCKFILES = {
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    "Pipfile.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "Cargo.lock",
    "go.sum",
    "Gemfile.lock",
    "composer.lock",
    "flake.lock",
}
_BUILD_NAMES = {
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Makefile",
    "CMakeLists.txt",
    "Dockerfile",
    "Cargo.toml",
    "package.json",
    "go.mod",
    "MANIFEST.in",
    "tox.ini",
    "noxfile.py",
}
_CI_PREFIXES = (".github/", ".gitlab-ci", ".circleci/", ".buildkite/", ".azure-pipelines", ".ci/", "ci/")
_CI_NAMES = {".pre-commit-config.yaml", "Jenkinsfile", ".travis.yml", "azure-pipelines.yml", "codecov.yml"}
_DOC_EXT = {".md", ".rst", ".adoc", ".txt", ".ipynb"}
_PROSE_EXT = {".md", ".rst", ".adoc"}
_DOC_DIRS = {"docs", "doc", "documentation"}
_TEST_DIRS = {"test", "tests", "testing", "__tests__", "spec", "e2e"}
_TEST_FILE = re.compile(r"(^test_.*|.*_test\.\w+$|.*\.test\.\w+$|.*\.spec\.\w+$|^conftest\.py$)")
_EXAMPLE_DIRS = {"examples", "example", "samples", "benchmark", "benchmarks", "bench"}
_VENDOR_DIRS = {"vendor", "third_party", "thirdparty", "3rdparty", "node_modules", "external"}
_GENERATED = re.compile(r"(_pb2(_grpc)?\.pyi?$|\.pb\.go$|\.min\.(js|css)$|\.generated\.\w+$|\.snap$|\.map$)")
_BINARY_EXT = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".ico",
    ".pdf",
    ".zip",
    ".gz",
    ".tar",
    ".whl",
    ".so",
    ".dll",
    ".dylib",
    ".bin",
    ".pt",
    ".pth",
    ".safetensors",
    ".onnx",
    ".woff",
    ".woff2",
    ".ttf",
    ".mp4",
    ".parquet",
    ".npy",
}
# Where a project's engine usually lives: changes here weigh more than the same size elsewhere.
CORE_HINTS = re.compile(r"(^|/)(csrc|kernels?|core|engine|runtime|scheduler|src)(/|$)|\.(cu|cuh|cc|cpp|h|hpp|rs)$")


@lru_cache(maxsize=8192)
def kind_of(path: str) -> Kind:
    """What a file is; asked for the same paths many times per commit (facts, prompt, rules, views)."""
    p = PurePosixPath(path)
    parts = {part.lower() for part in p.parts[:-1]}
    name = p.name
    suffix = p.suffix.lower()
    if name in LOCKFILES or (name.startswith("requirements") and suffix == ".lock"):
        return Kind.LOCKFILE
    if parts & _VENDOR_DIRS:
        return Kind.VENDORED
    if suffix in _BINARY_EXT:
        return Kind.BINARY
    if _GENERATED.search(name):
        return Kind.GENERATED
    if path.startswith(_CI_PREFIXES) or name in _CI_NAMES:
        return Kind.CI
    if parts & _TEST_DIRS or _TEST_FILE.match(name):
        return Kind.TEST
    if suffix in _PROSE_EXT:  # a README beside the examples is documentation too
        return Kind.DOCS
    if parts & _EXAMPLE_DIRS:
        return Kind.EXAMPLE
    if parts & _DOC_DIRS or suffix in _DOC_EXT or name.upper().startswith(("README", "CHANGELOG", "CONTRIBUTING")):
        return Kind.DOCS
    if name in _BUILD_NAMES or name.startswith(("requirements", "Dockerfile")) or "docker" in parts:
        return Kind.BUILD
    return Kind.SOURCE


def is_core(path: str) -> bool:
    return kind_of(path) is Kind.SOURCE and bool(CORE_HINTS.search(path))


def directory(path: str, depth: int = 2) -> str:
    """The first ``depth`` folders of a path ("python/sglang"); top-level files count as "/"."""
    parts = PurePosixPath(path).parts[:-1]
    return "/".join(parts[:depth]) + "/" if parts else "/"


def top_dirs(paths: list[str], limit: int = 3) -> list[tuple[str, int]]:
    return Counter(directory(p) for p in paths).most_common(limit)
