"""The judge term of the RL accuracy reward, for free-text golds the rules cannot verify (off by default).

Why a separate, explicit piece: the paper scored short answers with GPT-4o in its RL reward.
A judge is paid, slow and can fail; inside a training step it must never turn a failure
into a reward. So, per step: identical requests are asked once (eight rollouts often give
the same final answer) and answered from the judge's disk cache when seen before
(``specs_eval.run.judges.OpenAIJudge``, keyed by the request's hash); at most
``max_concurrency`` requests run at once; a failed or unreadable reply gives that sample
*no* accuracy reward (``None``: trl leaves it out of the accuracy term) and is counted in
the step metrics (``judge/failures``); when more than ``max_failure_rate`` of a step's
requests fail, the stage stops with the judge's first error instead of training on noise.
The judge id, settings and totals go into the stage manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.judge import Judge
from specs_eval.rules.rlpool import JUDGE_MAX_TOKENS, equivalence_prompt, gold_content, parse_equivalence
from training.config import RewardJudgeConfig
from training.manifest import StageError


@dataclass
class Judged:
    """One step's judge results: a verdict per sample (None = failed) and the counts."""

    verdicts: list[bool | None]
    requests: int = 0  # distinct requests this step
    cached: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        yes = sum(1 for v in self.verdicts if v)
        return {"judge/requests": float(self.requests), "judge/failures": float(self.failures),
                "judge/cached": float(self.cached),
                "judge/yes": yes / len(self.verdicts) if self.verdicts else 0.0}


class RewardJudge:
    """Asks an OpenAI-compatible judge whether free-text answers match their golds, a step at a time."""

    def __init__(self, judge: Judge, max_concurrency: int = 8, max_failure_rate: float = 0.5, stage: str = "rl"):
        self.backend = judge
        self.max_concurrency = max_concurrency
        self.max_failure_rate = max_failure_rate
        self.stage = stage
        self.totals = {"requests": 0, "cached": 0, "failures": 0, "samples": 0}

    @property
    def judge_id(self) -> str:
        return self.backend.judge_id

    def _prompt(self, benchmark: str | None, row: dict[str, Any], response: str) -> str:
        bench = get_benchmark(benchmark) if benchmark else None
        question = bench.question(row) if bench is not None and hasattr(bench, "question") else str(
            row.get("question") or row.get("query") or "")
        gold = bench.gold(row) if bench is not None and hasattr(bench, "gold") else row.get("answer")
        return equivalence_prompt(question, gold_content(gold), response)

    def _ask(self, prompt: str) -> tuple[bool | None, bool, str | None]:
        try:
            v = self.backend.complete([{"role": "user", "content": prompt}], max_tokens=JUDGE_MAX_TOKENS)
        except Exception as e:  # a judge client must not raise, but a step must survive one that does
            return None, False, f"{type(e).__name__}: {e}"
        if not v.ok:
            return None, v.cached, v.error or "no reply"
        ok = parse_equivalence(v.raw)
        return ok, v.cached, None if ok is not None else f"unreadable reply {v.raw[:60]!r}"

    def judge(self, items: Sequence[tuple[str | None, dict[str, Any], str]]) -> Judged:
        """Verdicts for (benchmark, row, response) triples, in order."""
        prompts = [self._prompt(b, r, t) for b, r, t in items]
        unique = list(dict.fromkeys(prompts))
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            answers = dict(zip(unique, pool.map(self._ask, unique), strict=True))
        out = Judged(verdicts=[answers[p][0] for p in prompts], requests=len(unique))
        for _ok, cached, err in answers.values():
            out.cached += int(cached)
            if err is not None:
                out.failures += 1
                if len(out.errors) < 3:
                    out.errors.append(err)
        self.totals["requests"] += out.requests
        self.totals["cached"] += out.cached
        self.totals["failures"] += out.failures
        self.totals["samples"] += len(prompts)
        if out.requests and out.failures / out.requests > self.max_failure_rate:
            raise StageError(self.stage, f"the reward judge {self.judge_id} failed on {out.failures} of {out.requests} "
                             f"requests in one step (more than max_failure_rate={self.max_failure_rate}): "
                             f"{out.errors[0]}; fix the judge endpoint and rerun (the stage resumes)")
        return out


def make_reward_judge(cfg: RewardJudgeConfig, cache_dir: Path, stage: str) -> RewardJudge:
    """The configured judge over the toolkit's OpenAI-compatible client, with its disk cache."""
    from specs_eval.backends.openai_client import OpenAIClient
    from specs_eval.run.judges import OpenAIJudge

    assert cfg.base_url and cfg.model
    client = OpenAIClient(cfg.base_url, api_key_env=cfg.api_key_env, timeout_s=cfg.timeout_s,
                          max_retries=cfg.max_retries)
    return RewardJudge(OpenAIJudge(client, cfg.model, cache_dir=cache_dir), cfg.max_concurrency,
                       cfg.max_failure_rate, stage)
