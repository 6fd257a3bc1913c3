"""bench/quality.py with a model: the real bench, the real SDK and FakeOpenAI, on the tests' own labelled day
(tests/data/labels/widgets.jsonl over tests/data/github/widgets-2026-03-08)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from tests.fakes.openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@cache
def bench() -> ModuleType:
    """bench/quality.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "bench" / "quality.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ARGS = ["--labels", str(DATA / "labels" / "widgets.jsonl"), "--fixtures", str(DATA / "github")]


@pytest.mark.parametrize(("language", "invent"), [("en", "figure"), ("zh-CN", "wrong_language_once")])
def test_the_bench_scores_a_model_and_reports_its_cost_and_checks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], language: str, invent: str
) -> None:
    with FakeOpenAI(invent=invent) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        bench().main([*ARGS, "--analyzer", "llm", "--lang", language])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"analyzer: llm; language: {language}")
    assert lines[1].startswith("overall") and "n=7" in lines[1] and "kappa=" in lines[1] and "type=" in lines[1]
    # Every commit went to the model (no triage) — two of them in one thread, one call — plus the overview;
    # the zh-CN run asked each one twice.
    commits = len(fake.completions("analysis")) + len(fake.completions("thread"))
    assert len(fake.completions("thread")) == (1 if invent == "figure" else 2)
    assert commits == (6 if invent == "figure" else 12)
    assert f"model: gpt-4o-mini · {commits + len(fake.completions('overview'))} calls" in out
    assert "0 commits fell back to the heuristic" in out
    tokens = next(line for line in lines if line.startswith("model:"))
    assert "~$0.0000" not in tokens and " 0 tokens in" not in tokens
    if invent == "figure":
        assert "grounding: 12 figures dropped · 0 language retries · 0 corrections" in out
    else:
        assert "grounding: 0 figures dropped · 7 language retries · 0 corrections" in out


def test_without_a_key_the_llm_bench_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        bench().main([*ARGS, "--analyzer", "llm"])
    assert stop.value.code == 2 and "needs OPENAI_API_KEY" in capsys.readouterr().err


def test_the_heuristic_bench_still_needs_no_model(capsys: pytest.CaptureFixture[str]) -> None:
    bench().main(ARGS)
    out = capsys.readouterr().out
    assert out.startswith("analyzer: heuristic") and "n=7" in out and "grounding:" not in out
