"""Busy days of commits: a synthetic one shaped like the real days in GitHub's fixtures (titles from sglang
and SpecForge, conventional prefixes and bracket tags, source/test/docs/CI/lockfile paths, sizes from one
line to thousands), and one laid out from a real repository's history (tests/data/days/README.md)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from hashlib import sha1
from pathlib import Path

from newsletter.models import Commit, FileChange, Person, PullRequest, RepoCommits, Window

REAL_HISTORY = Path(__file__).parent / "data" / "days" / "specforge-history.json.gz"

REPO = "sgl-project/sglang"
DAY = datetime(2026, 1, 13, tzinfo=UTC).date()
TZ = "Asia/Shanghai"

# (title, author, [(path, additions, deletions)])
SPECS: list[tuple[str, str, list[tuple[str, int, int]]]] = [
    ("[CI/NPU] Fix ascend CI issue (#16953)", "Junrong Lin", [(".github/workflows/npu.yml", 4, 2)]),
    (
        "[Misc] Auto download question file for benchmark/mtbench (#17019)",
        "elvischenv",
        [("benchmark/mtbench/bench_sglang.py", 14, 3), ("benchmark/mtbench/bench_other.py", 12, 3)],
    ),
    (
        "Fix sgl-kernel per_token_quant fp8 kernel scale shared_memory bug (#16886)",
        "Xiaoyu Zhang",
        [
            ("sgl-kernel/csrc/gemm/per_token_quant_fp8.cu", 18, 9),
            ("sgl-kernel/tests/test_per_token_quant_fp8.py", 30, 2),
        ],
    ),
    (
        "[model-gateway] Optimize L1 cache insertion with incremental hashing | tokenization (#16259)",
        "Praneth Paruchuri",
        [("sgl-model-gateway/src/tokenizer/cache/l1.rs", 120, 64)],
    ),
    (
        "[model-gateway] fix wasm example  (#16924)",
        "Praneth Paruchuri",
        [("sgl-model-gateway/examples/wasm/main.rs", 6, 6)],
    ),
    (
        "[diffusion] chore: clean excessive document (#16986)",
        "Mick",
        [(f"python/sglang/multimodal_gen/runtime/mod{i}.py", 2, 40) for i in range(12)],
    ),
    (
        "[diffusion] fix: fix compatibility issue with torch.compile and flash attention v4 (#16790)",
        "ahb13",
        [("python/sglang/multimodal_gen/runtime/layers/attention/backends/flash_attn.py", 88, 12)],
    ),
    (
        "[Refactor] Clean up JIT kernel utilites (#16884)",
        "DarkSharpness",
        [
            (f"python/sglang/jit_kernel/include/sgl_kernel/{n}.cuh", 180, 150)
            for n in ("atomic", "cta", "tile", "math", "type", "norm", "warp", "utils")
        ],
    ),
    ("[Diffusion] Remove useless dependency in diffusion (#16967)", "Xiaoyu Zhang", [("python/pyproject.toml", 0, 3)]),
    (
        "[AMD][Diffusion] support timestep embedding kernel for AMD GPUs (#16766)",
        "Hubert Lu",
        [
            ("sgl-kernel/csrc/sgl_diffusion/elementwise/timestep_embedding.cu", 240, 0),
            ("sgl-kernel/setup_rocm.py", 3, 0),
            ("docker/rocm.Dockerfile", 2, 2),
        ],
    ),
    (
        "Support min num routing keys in key-based load balancing policy (#16564)",
        "fzyzcjy",
        [("sgl-model-gateway/src/policies/manual.rs", 310, 40), ("sgl-model-gateway/src/config/types.rs", 20, 2)],
    ),
    (
        "Support min load besides random routing key assignment policy in ManualPolicy (#16767)",
        "fzyzcjy",
        [("sgl-model-gateway/src/policies/manual.rs", 150, 20)],
    ),
    (
        "[diffusion] perf: optimize linear calculation in SLA (#16648)",
        "HuangJi",
        [("python/sglang/multimodal_gen/runtime/layers/sla.py", 30, 22)],
    ),
    (
        "[diffusion] fix: fix not respecting dit_layerwise_offload server arg (#16252)",
        "Mick",
        [("python/sglang/multimodal_gen/runtime/server_args.py", 5, 2)],
    ),
    (
        "[diffusion] UX: provide solutions for OOM (#16940)",
        "Mick",
        [("python/sglang/multimodal_gen/runtime/utils/oom.py", 25, 1)],
    ),
    ("[NPU] upgrade npu mf_apater plugin (#15853)", "James", [("scripts/npu/install.sh", 2, 2)]),
    (
        "Support tracking worker routing key loads in gateway (#16765)",
        "fzyzcjy",
        [("sgl-model-gateway/src/core/worker.rs", 140, 10)],
    ),
    ("[layers] support zero-dim rmsnorm (#16978)", "Yinghai Lu", [("python/sglang/srt/layers/layernorm.py", 8, 1)]),
    (
        "[smg] fix type complexity for workflow run_if (#16981)",
        "Simo Lin",
        [("sgl-model-gateway/src/workflow/definition.rs", 10, 4)],
    ),
    (
        "feat(workflow): add scheduled/delayed steps and conditional branching (#16980)",
        "Simo Lin",
        [
            ("sgl-model-gateway/src/workflow/engine.rs", 620, 80),
            ("sgl-model-gateway/src/workflow/definition.rs", 210, 12),
            ("sgl-model-gateway/tests/workflow_test.rs", 700, 0),
        ],
    ),
    (
        "[model-gateway] make StateStore trait async for external persistence (#16979)",
        "Simo Lin",
        [("sgl-model-gateway/src/workflow/state.rs", 90, 60)],
    ),
    (
        "[model-gateway] improve workflow engine code quality (#16977)",
        "Simo Lin",
        [("sgl-model-gateway/src/workflow/engine.rs", 70, 90)],
    ),
    (
        "[model-gateway] refactor workflow engine from type erasure to typed engines (#16973)",
        "Simo Lin",
        [(f"sgl-model-gateway/src/core/steps/step{i}.rs", 60, 70) for i in range(20)],
    ),
    (
        "[model-gateway] convert workflow system to type-safe workflow data (#16970)",
        "Simo Lin",
        [(f"sgl-model-gateway/src/workflow/part{i}.rs", 90, 40) for i in range(15)],
    ),
    (
        "Bug: fixed multi_chain_reasoning test (#16192)",
        "Bhavneek Singh",
        [("test/srt/test_multi_chain_reasoning.py", 5, 3)],
    ),
    ("Bump urllib3 from 2.2.1 to 2.2.2", "dependabot[bot]", [("python/uv.lock", 6, 6)]),
    ("docs: fix typo in README", "alice", [("README.md", 1, 1)]),
    (
        "style: satisfy pre-commit lint",
        "bob",
        [("python/sglang/srt/server.py", 3, 3), ("python/sglang/srt/utils.py", 1, 1)],
    ),
    ("test: restore 4-rank legacy teacher fixture", "carol", [("tests/test_teacher.py", 3, 0)]),
    (
        "fix: avoid duplicate distributed grad norm reduction",
        "dave",
        [("specforge/core/optimizer.py", 40, 10), ("tests/test_optimizer.py", 16, 3)],
    ),
    (
        "refactor!: remove duplicate training paths",
        "erin",
        [(f"specforge/training/path{i}.py", 5, 400) for i in range(30)],
    ),
    ('revert: "switch from hf to modelscope"', "frank", [("specforge/data/download.py", 1, 7)]),
    ("security: validate uploaded config paths against traversal", "grace", [("specforge/server/upload.py", 25, 3)]),
    ("docs: document unified YAML schema", "heidi", [("docs/config.md", 410, 3)]),
    (
        "build: make import sorting environment independent",
        "ivan",
        [("pyproject.toml", 3, 4), (".pre-commit-config.yaml", 3, 3)],
    ),
    (
        "configs: drop cache prefix from ShareGPT paths <script>alert(1)</script>",
        "judy",
        [(f"configs/sharegpt_{i}.yaml", 1, 1) for i in range(20)],
    ),
    (
        "examples: split disaggregated launch workflows",
        "mallory",
        [("examples/disagg/launch.sh", 300, 120), ("examples/disagg/README.md", 40, 5)],
    ),
    (
        "fix(runtime): settle incomplete online tails cleanly",
        "niaj",
        [("specforge/runtime/online.py", 150, 30), ("tests/runtime/test_online.py", 61, 11)],
    ),
    ("perf: vectorise fp8 quantisation", "olivia", [("csrc/quant/fp8.cu", 120, 80), ("assets/fp8-speedup.png", 0, 0)]),
    ("Update assets and fix typo", "peggy", [("src/auth/session.py", 30, 2)]),
]


def _sha(i: int) -> str:
    return sha1(f"commit-{i}".encode()).hexdigest()


def _patch(path: str, additions: int, deletions: int) -> str | None:
    if path.endswith(".png"):
        return None
    lines = [f"@@ -1,{deletions} +1,{additions} @@"]
    lines += [f"-    old_line_{j} = compute({j})" for j in range(deletions)]
    lines += [f"+    new_line_{j} = compute_better({j})  # {path}" for j in range(additions)]
    return "\n".join(lines)


def make_commit(i: int, title: str, author: str, files: list[tuple[str, int, int]], when: datetime) -> Commit:
    login = author.replace(" ", "").lower() if not author.endswith("[bot]") else author
    changes = [
        FileChange(
            path=p,
            status="added" if d == 0 and a > 100 else "modified",
            additions=a,
            deletions=d,
            patch=_patch(p, a, d),
        )
        for p, a, d in files
    ]
    sha = _sha(i)
    number = None
    if title.endswith(")") and "(#" in title:
        number = int(title.rsplit("(#", 1)[1].rstrip(")"))
    return Commit(
        sha=sha,
        url=f"https://github.com/{REPO}/commit/{sha}",
        title=title,
        message=f"{title}\n\nCo-authored-by: someone <someone@example.com>",
        author=Person(name=author, login=login, email=f"{login}@example.com"),
        committed_at=when,
        authored_at=when,
        pr=PullRequest(
            number=number, title=title, body="What this PR does.", url=f"https://github.com/{REPO}/pull/{number}"
        )
        if number
        else None,
        additions=sum(a for _, a, _ in files),
        deletions=sum(d for _, _, d in files),
        files=changes,
        parents=[_sha(i + 1000)],
    )


def day_of_commits(count: int = 40) -> RepoCommits:
    """``count`` commits (40 distinct ones at most, then repeated with new SHAs), newest first."""
    window = Window.for_day(DAY, TZ)
    commits = []
    for i in range(count):
        title, author, files = SPECS[i % len(SPECS)]
        when = window.end - timedelta(minutes=17 * (i + 1))
        commits.append(make_commit(i, title, author, files, when))
    return RepoCommits(repo=REPO, branch="main", window=window, commits=commits)


def real_history_day(count: int = 311, day: date = date(2026, 8, 3), tz: str = "America/Los_Angeles") -> RepoCommits:
    """``count`` commits of sgl-project/SpecForge's real history (152 distinct commits, as collected) laid out
    on one day, newest first and evenly spaced. Past the 152 the same commits come again under derived SHAs
    and without their pull request, so that a copy neither shares its original's anchor nor joins its
    thread; titles, authors, files and sizes stay the real ones."""
    with gzip.open(REAL_HISTORY, "rt", encoding="utf-8") as fh:
        history = RepoCommits.model_validate(json.load(fh)[0])
    real = history.commits
    window = Window.for_day(day, tz)
    step = (window.end - window.start) / (count + 1)
    commits = []
    for n in range(count):
        commit, copy = real[n % len(real)], n // len(real)
        when = (window.end - step * (n + 1)).replace(microsecond=0)
        update: dict[str, object] = {"committed_at": when, "authored_at": when}
        if copy:
            sha = sha1(f"{commit.sha}:{copy}".encode()).hexdigest()
            update |= {"sha": sha, "url": commit.url.rsplit("/", 1)[0] + "/" + sha, "pr": None}
        commits.append(commit.model_copy(update=update))
    return RepoCommits(repo=history.repo, branch=history.branch, window=window, commits=commits)
