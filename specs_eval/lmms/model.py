"""specs-eval backends as an lmms-eval model (``--model specs_eval``), loaded by lmms-eval only.

Why a wrapper over our backends and not a new model class: the point is that lmms-eval and
``specs-eval run`` see the same generations. This class builds our ``Prompt`` exactly as our
benchmarks do for single-text tasks (images first, then the text), converts lmms-eval's
``generation_kwargs`` to our ``GenerationSettings``, and calls any registered backend (``hf``,
``openai``, ``vllm``) in batches. Returned ``GenerationResult``s carry token counts, so
lmms-eval's efficiency block is filled.

    python -m lmms_eval --model specs_eval \\
        --model_args model=tiny-base,backend=hf,device=cpu,threads=2 \\
        --tasks specs_toyworld_id --include_path DIR --batch_size 8 --log_samples --output_path OUT \\
        --verbosity DEBUG

``model_args`` other than ``model``/``backend`` go to the backend (e.g. ``base_url``,
``concurrency`` for ``openai``; ``tp``, ``gpu_memory_utilization`` for ``vllm``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms

from specs_eval.backends.base import make_backend
from specs_eval.core.prompt import Prompt
from specs_eval.lmms.requests import cut_at_stops, settings_from_gen_kwargs


class SpecsEvalLMM(lmms):
    """Simple (``generate_until``) lmms-eval model over a specs-eval backend."""

    is_simple = True

    def __init__(self, model: str = "tiny-base", backend: str = "hf", batch_size: int | str = 8,
                 device: str | None = None, **backend_options: Any):
        super().__init__()
        self.batch_size_per_gpu = max(1, int(batch_size))
        if backend == "hf" and device is not None:
            backend_options.setdefault("device", device)
        self.backend = make_backend(backend, str(model), **backend_options)

    def generate_until(self, requests: list[Any]) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(requests)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, req in enumerate(requests):
            groups[json.dumps(req.args[1], sort_keys=True, default=str)].append(i)
        for idxs in groups.values():
            gen_kwargs = dict(requests[idxs[0]].args[1])
            settings = settings_from_gen_kwargs(gen_kwargs, self.batch_size_per_gpu)
            for start in range(0, len(idxs), self.batch_size_per_gpu):
                chunk = idxs[start:start + self.batch_size_per_gpu]
                prompts = []
                for i in chunk:
                    context, _, doc_to_visual, doc_id, task, split = requests[i].args
                    visuals = doc_to_visual(self.task_dict[task][split][doc_id]) or []
                    prompts.append(Prompt.simple(context, list(visuals)))
                outputs = self.backend.generate(prompts, settings, seed=settings.seed)
                for i, outs in zip(chunk, outputs, strict=True):
                    o = outs[0]
                    text = cut_at_stops(o.text, gen_kwargs.get("until"))
                    results[i] = GenerationResult(text=text, token_counts=TokenCounts(
                        input_tokens=o.n_prompt_tokens, output_tokens=o.n_tokens))
        return [r if r is not None else GenerationResult(text="") for r in results]

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError("specs_eval models generate; log-likelihood tasks are not supported")

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError("specs_eval models answer single-round tasks")
