"""Facts from diffs, one language family at a time: what changed for users, and where it was found."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from newsletter.analyze import facts
from newsletter.analyze.facts import FactKind, Scope, extract
from newsletter.models import Commit, FileChange, Person, PullRequest

NOW = datetime(2026, 7, 14, 12, tzinfo=UTC)


def commit(*files: FileChange, title: str = "change", body: str | None = None, message: str = "") -> Commit:
    return Commit(
        sha="a" * 40,
        url="https://github.com/o/r/commit/" + "a" * 40,
        title=title,
        message=message or title,
        author=Person(name="Ada"),
        committed_at=NOW,
        authored_at=NOW,
        pr=PullRequest(number=7, title=title, body=body) if body is not None else None,
        files=list(files),
    )


def patch(path: str, text: str, status: str = "modified") -> FileChange:
    lines = text.strip("\n").splitlines()
    return FileChange(path=path, status=status, patch=f"@@ -1,{len(lines)} +1,{len(lines)} @@\n" + "\n".join(lines))


def named(found: facts.Facts, kind: FactKind) -> dict[str, facts.Fact]:
    return {f.name: f for f in found.of(kind)}


ARGPARSE = """
 parser.add_argument("--data-path", type=str, required=True)
-parser.add_argument(
-    "--capture-layers",
-    type=str,
-    default=None,
-)
+parser.add_argument(
+    "--spec-capture-method",
+    choices=["server", "local"],
+    default="server",
+)
-parser.add_argument("--max-length", type=int, default=2048)
+parser.add_argument("--max-length", type=int, default=4096)
"""


def test_python_flags_removed_added_and_default_changed() -> None:
    found = extract(commit(patch("scripts/prepare_hidden_states.py", ARGPARSE)))
    assert named(found, FactKind.FLAG_REMOVED)["--capture-layers"].path == "scripts/prepare_hidden_states.py"
    added = named(found, FactKind.FLAG_ADDED)["--spec-capture-method"]
    assert added.new == '"server"' and "local" in (added.detail or "")
    changed = named(found, FactKind.DEFAULT_CHANGED)["--max-length"]
    assert (changed.old, changed.new) == ("2048", "4096")
    assert "--data-path" not in named(found, FactKind.FLAG_ADDED)  # context only: unchanged
    assert facts.removes_public_surface(found) and facts.changes_default(found) and found.breaking()


def test_python_public_symbols_env_routes_and_config_fields() -> None:
    code = """
-def load_target(path):
+def load_target_model(path):
     pass
-def _helper():
+def _helper2():
     pass
 class Trainer:
-    def fit(self):
+    def train(self):
         pass
-    timeout = os.environ.get("SPECFORGE_TIMEOUT")
+    timeout = os.getenv("SPECFORGE_DEADLINE")
+@app.get("/v1/health")
+def health():
+    pass
"""
    config = """
 class TrainingConfig:
-    tp_size: int = 2
+    tp_size: int = 1
-    eval_data_path: str | None = None
"""
    found = extract(commit(patch("specforge/train.py", code), patch("specforge/config/schema.py", config)))
    assert set(named(found, FactKind.SYMBOL_REMOVED)) == {"load_target", "Trainer.fit"}
    assert {"load_target_model", "Trainer.train", "health"} <= set(named(found, FactKind.SYMBOL_ADDED))
    assert "_helper2" not in named(found, FactKind.SYMBOL_ADDED)  # private
    assert set(named(found, FactKind.ENV_REMOVED)) == {"SPECFORGE_TIMEOUT"}
    assert set(named(found, FactKind.ENV_ADDED)) == {"SPECFORGE_DEADLINE"}
    assert set(named(found, FactKind.ROUTE_ADDED)) == {"/v1/health"}
    default = named(found, FactKind.DEFAULT_CHANGED)["TrainingConfig.tp_size"]
    assert (default.old, default.new, default.path) == ("2", "1", "specforge/config/schema.py")
    assert "TrainingConfig.eval_data_path" in named(found, FactKind.CONFIG_KEY_REMOVED)


def test_a_symbol_moved_between_files_is_neither_added_nor_removed() -> None:
    found = extract(
        commit(
            patch("pkg/old.py", "-def shared():\n-    pass", status="removed"),
            patch("pkg/new.py", "+def shared():\n+    pass", status="added"),
        )
    )
    assert not found.of(FactKind.SYMBOL_ADDED, FactKind.SYMBOL_REMOVED)
    assert [f.name for f in found.of(FactKind.FILE_DELETED)] == ["pkg/old.py"]


def test_tests_and_test_symbols_are_not_public_surface() -> None:
    found = extract(commit(patch("tests/test_train.py", "-def helper():\n+def test_resume_checks_hashes():")))
    assert not found.of(FactKind.SYMBOL_REMOVED)
    assert [f.name for f in found.of(FactKind.TESTS_ADDED)] == ["test_resume_checks_hashes"]
    assert found.scope is Scope.TESTS and facts.only_ci_tests_docs(found)


def test_go_exported_symbols_flags_env_and_routes() -> None:
    code = """
-func Serve(addr string) error {
+func ServeTLS(addr string) error {
-func helper() {}
-var port = flag.Int("port", 8080, "port")
+var port = flag.Int("port", 9090, "port")
-cmd.Flags().StringVarP(&cfg, "config", "c", "", "config file")
+cmd.Flags().BoolVar(&dry, "dry-run", false, "do nothing")
+token := os.Getenv("APP_TOKEN")
+mux.HandleFunc("/metrics", metrics)
"""
    found = extract(commit(patch("cmd/server/main.go", code)))
    assert set(named(found, FactKind.SYMBOL_REMOVED)) == {"Serve"}
    assert set(named(found, FactKind.SYMBOL_ADDED)) == {"ServeTLS"}
    assert named(found, FactKind.DEFAULT_CHANGED)["--port"].new == "9090"
    assert set(named(found, FactKind.FLAG_REMOVED)) == {"--config"}
    assert set(named(found, FactKind.FLAG_ADDED)) == {"--dry-run"}
    assert set(named(found, FactKind.ENV_ADDED)) == {"APP_TOKEN"}
    assert set(named(found, FactKind.ROUTE_ADDED)) == {"/metrics"}


def test_rust_pub_items_and_clap_flags() -> None:
    code = """
-pub fn connect(url: &str) {}
+pub(crate) fn connect(url: &str) {}
+pub struct Router;
 struct Args {
-    #[arg(long, default_value_t = 8)]
-    workers: usize,
+    #[arg(long = "threads", default_value_t = 8)]
+    threads: usize,
+    let key = std::env::var("ROUTER_KEY");
 }
"""
    found = extract(commit(patch("src/main.rs", code)))
    assert set(named(found, FactKind.SYMBOL_REMOVED)) == {"connect"}
    assert set(named(found, FactKind.SYMBOL_ADDED)) == {"Router"}
    assert set(named(found, FactKind.FLAG_REMOVED)) == {"--workers"}
    assert set(named(found, FactKind.FLAG_ADDED)) == {"--threads"}
    assert set(named(found, FactKind.ENV_ADDED)) == {"ROUTER_KEY"}


def test_typescript_exports_options_and_env() -> None:
    code = """
-export function render(issue) {}
+export async function renderIssue(issue) {}
+export interface Options { dryRun: boolean }
-program.option('-o, --out <file>', 'output')
+const key = process.env.API_KEY
"""
    found = extract(commit(patch("src/cli.ts", code)))
    assert set(named(found, FactKind.SYMBOL_REMOVED)) == {"render"}
    assert set(named(found, FactKind.SYMBOL_ADDED)) == {"renderIssue", "Options"}
    assert set(named(found, FactKind.FLAG_REMOVED)) == {"--out"}
    assert set(named(found, FactKind.ENV_ADDED)) == {"API_KEY"}


def test_dependencies_with_versions_and_the_release_version() -> None:
    pyproject = """
-version = "0.2.0"
+version = "0.3.0"
 dependencies = [
-    "torch>=2.4",
+    "torch>=2.6",
+    "sglang==0.5.14",
-    "accelerate",
 ]
"""
    gomod = "-require github.com/spf13/cobra v1.7.0\n+require github.com/spf13/cobra v1.8.1"
    cargo = '-serde = "1.0.190"\n+serde = { version = "1.0.200", features = ["derive"] }'
    package = '-    "react": "^18.2.0",\n+    "react": "^19.0.0",\n+    "zod": "3.23.8",'
    requirements = "-numpy==1.26.4\n+numpy==2.0.1"
    found = extract(
        commit(
            patch("pyproject.toml", pyproject),
            patch("go.mod", gomod),
            patch("Cargo.toml", cargo),
            patch("web/package.json", package),
            patch("requirements.txt", requirements),
        )
    )
    changed = {f.name: (f.old, f.new) for f in found.of(FactKind.DEPENDENCY_CHANGED)}
    assert changed == {
        "torch": (">=2.4", ">=2.6"),
        "github.com/spf13/cobra": ("v1.7.0", "v1.8.1"),
        "serde": ("1.0.190", "1.0.200"),
        "react": ("^18.2.0", "^19.0.0"),
        "numpy": ("==1.26.4", "==2.0.1"),
    }
    assert {f.name: f.new for f in found.of(FactKind.DEPENDENCY_ADDED)} == {"sglang": "==0.5.14", "zod": "3.23.8"}
    assert [f.name for f in found.of(FactKind.DEPENDENCY_REMOVED)] == ["accelerate"]
    version = found.of(FactKind.VERSION_CHANGED)[0]
    assert (version.old, version.new, version.path) == ("0.2.0", "0.3.0", "pyproject.toml")


def test_licence_file_and_spdx_header() -> None:
    found = extract(commit(patch("LICENSE", "-MIT License\n+Apache License")))
    assert facts.licence_changed(found) and found.of(FactKind.LICENCE_CHANGED)[0].path == "LICENSE"
    header = "-# SPDX-License-Identifier: MIT\n+# SPDX-License-Identifier: Apache-2.0"
    found = extract(commit(patch("pkg/mod.py", header)))
    fact = found.of(FactKind.LICENCE_CHANGED)[0]
    assert (fact.old, fact.new) == ("MIT", "Apache-2.0")
    # A new file with the usual header is not a licence change.
    new_file = patch("pkg/new.py", "+# SPDX-License-Identifier: MIT", status="added")
    assert not facts.licence_changed(extract(commit(new_file)))


def test_docker_config_and_ci() -> None:
    docker = "-FROM python:3.11-slim\n+FROM python:3.12-slim\n+ENV HF_HOME=/cache"
    yaml = " training:\n-  tp_size: 2\n+  tp_size: 1\n-  eval_data_path: x\n+  seed: 42"
    found = extract(commit(patch("docker/Dockerfile", docker), patch("specforge/defaults.yaml", yaml)))
    image = found.of(FactKind.IMAGE_CHANGED)[0]
    assert (image.old, image.new) == ("3.11-slim", "3.12-slim")
    assert "HF_HOME" in named(found, FactKind.ENV_ADDED)
    assert (named(found, FactKind.DEFAULT_CHANGED)["training.tp_size"].new) == "1"
    assert "training.eval_data_path" in named(found, FactKind.CONFIG_KEY_REMOVED)
    assert "training.seed" in named(found, FactKind.CONFIG_KEY_ADDED)
    workflow = patch(".github/workflows/test.yml", "-  lint:\n+  unit:\n+    runs-on: x")
    ci_only = extract(commit(workflow, title="fix: x"))
    assert ci_only.scope is Scope.CI and facts.only_ci_tests_docs(ci_only)
    assert {(f.name, f.detail) for f in ci_only.of(FactKind.WORKFLOW_CHANGED)} >= {("unit", "job added")}
    assert not facts.only_ci_tests_docs(extract(commit(patch("src/a.py", "+x = 1"), patch("docs/a.md", "+x"))))


PR_BODY = """## Motivation

Offline capture drifted from the draft architecture; this makes the draft config the only source.

## Modifications

- remove `--capture-layers`
- [x] tests pass

## Benchmark

| model | acceptance length | throughput |
| --- | --- | --- |
| Qwen3-8B | 3.42 | 1,234 tok/s |

Speed-up: 1.8x on H100.
"""


def test_pr_body_sections_and_figures_are_quoted_with_their_section() -> None:
    found = extract(commit(body=PR_BODY))
    sections = {f.name: f.quote for f in found.of(FactKind.PR_SECTION)}
    assert sections["Motivation"].startswith("Offline capture drifted")
    assert sections["Modifications"] == "remove `--capture-layers`"
    figures = found.of(FactKind.PR_FIGURE)
    assert [f.quote for f in figures] == ["| Qwen3-8B | 3.42 | 1,234 tok/s |", "Speed-up: 1.8x on H100."]
    assert all(f.section == "Benchmark" and f.source == "PR body · Benchmark" for f in figures)
    assert figures[0].detail == "| model | acceptance length | throughput |"


def test_commit_message_body_stands_in_without_a_pr() -> None:
    found = extract(commit(message="perf: faster\n\nPolling is now linear: 40 ms instead of 900 ms per step."))
    assert [f.section for f in found.of(FactKind.PR_FIGURE)] == ["commit message"]
    assert found.scope is Scope.NONE and not facts.only_ci_tests_docs(found)


def test_inside_one_build_a_commit_is_read_once_and_another_commit_under_its_sha_is_not_mixed_up() -> None:
    first = commit(patch("scripts/prepare_hidden_states.py", ARGPARSE))
    other = commit(patch("scripts/train.py", '+parser.add_argument("--plan", type=str)'))  # same SHA, other diff
    with facts.memo():
        found = extract(first)
        assert extract(first) is found  # the same facts object: not extracted again
        assert "--plan" in named(extract(other), FactKind.FLAG_ADDED)
        assert "--capture-layers" in named(extract(first), FactKind.FLAG_REMOVED)
    assert extract(first) is not found  # outside a build nothing is kept


def test_threads_asking_for_one_commit_at_once_share_one_reading() -> None:
    """The read-ahead of a build and the analysis of the same commit may meet: the diff is read once."""
    big = commit(*(patch(f"scripts/tool_{n}.py", ARGPARSE) for n in range(300)))
    start = threading.Barrier(8)
    found: list[object] = []

    def ask() -> None:
        start.wait()
        found.append(extract(big))

    with facts.memo():
        readers = [threading.Thread(target=ask) for _ in range(8)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
    assert len(found) == 8 and all(f is found[0] for f in found)
    assert "--capture-layers" in named(found[0], FactKind.FLAG_REMOVED)


RENAME_FLAG = """
@@ -41,9 +41,9 @@ def parse_args():
     parser.add_argument("--data-path", type=str, required=True)
     parser.add_argument(
-        "--num-epochs",
+        "--num-train-epochs",
         type=int,
         default=10,
         help="number of passes over the data",
     )
-    parser.add_argument("--capture-layers", type=str, default=None)
+    parser.add_argument("--spec-capture-method", choices=["server", "local"], default="server")
"""
RENAME_ENV = """
@@ -12,7 +12,7 @@ import os

 def cache_dir() -> str:
-    return os.environ.get("SPECFORGE_CACHE_DIR", "~/.cache/specforge")
+    return os.environ.get("SPECFORGE_CACHE_PATH", "~/.cache/specforge")
"""
RENAME_KEY = """
@@ -3,6 +3,6 @@ model:
   target: Qwen/Qwen3-8B
 training:
-  max_len: 2048
+  max_length: 2048
   lr: 1e-4
-  warmup_steps: 100
+  scheduler: cosine
"""
RENAME_SYMBOL = """
@@ -20,7 +20,7 @@ from torch import optim


-def build_optimizer(model, lr):
+def build_optimiser(model, lr):
     return optim.AdamW(model.parameters(), lr=lr)
"""


def test_a_removed_and_an_added_item_that_pair_up_clearly_are_a_rename() -> None:
    found = extract(
        commit(
            patch("scripts/train.py", RENAME_FLAG),
            patch("specforge/paths.py", RENAME_ENV),
            patch("configs/qwen3-8b.yaml", RENAME_KEY),
            patch("specforge/optim.py", RENAME_SYMBOL),
        )
    )
    renamed = {(f.detail, f.old): f.name for f in found.of(FactKind.RENAMED)}
    assert renamed == {
        ("flag", "--num-epochs"): "--num-train-epochs",  # similar names, the same default
        ("env", "SPECFORGE_CACHE_DIR"): "SPECFORGE_CACHE_PATH",
        ("config key", "training.max_len"): "training.max_length",
        ("symbol", "build_optimizer"): "build_optimiser",
    }
    # Items that do not pair up clearly stay removed and added: another name, another default.
    shown = found.for_reading()
    assert "--capture-layers" in named(shown, FactKind.FLAG_REMOVED)
    assert "--spec-capture-method" in named(shown, FactKind.FLAG_ADDED)
    assert "training.warmup_steps" in named(shown, FactKind.CONFIG_KEY_REMOVED)
    assert "--num-epochs" not in named(shown, FactKind.FLAG_REMOVED)
    assert "--num-train-epochs" not in named(shown, FactKind.FLAG_ADDED)
    # The rules still see the removal: a rename breaks what used the old name.
    assert "--num-epochs" in named(found, FactKind.FLAG_REMOVED) and found.breaking()


def test_two_candidates_for_one_name_are_no_rename() -> None:
    ambiguous = """
@@ -1,3 +1,4 @@
-parser.add_argument("--batch-size", type=int, default=8)
+parser.add_argument("--batch-sizes", type=int, default=8)
+parser.add_argument("--batch-size2", type=int, default=8)
"""
    found = extract(commit(patch("scripts/train.py", ambiguous)))
    assert found.of(FactKind.RENAMED) == []
