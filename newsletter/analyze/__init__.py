"""Analyse commits: what each one is, how much it matters, what it means for users.

Two implementations of ``Analyzer``: the heuristic (embedded default, no key) and the language model
(``llm.py``); ``backends.make_analyzer`` chooses.
"""

from newsletter.analyze.base import Analyzer, Job, ProgressFn
from newsletter.analyze.heuristic import HeuristicAnalyzer

__all__ = ["Analyzer", "HeuristicAnalyzer", "Job", "ProgressFn"]
