"""lmms-eval request arguments → specs-eval settings (no lmms_eval import, so tested without it).

Why explicit: lmms-eval tasks pass ``generation_kwargs`` in HF style (``do_sample``,
``temperature``, ``top_p``, ``until``...). Our backends take explicit ``GenerationSettings``
with no hidden defaults, so the conversion is spelled out once here: greedy unless
``do_sample`` is not false *and* the temperature is above 0; ``until`` stop strings are applied
to the returned text, as lmms-eval's own models do.
"""

from __future__ import annotations

from typing import Any

from specs_eval.core.records import GenerationSettings


def settings_from_gen_kwargs(gen_kwargs: dict[str, Any], batch_size: int) -> GenerationSettings:
    """lmms-eval ``generation_kwargs`` → our explicit settings (greedy unless do_sample with temperature > 0)."""
    temperature = float(gen_kwargs.get("temperature") or 0.0)
    if gen_kwargs.get("do_sample") is False:
        temperature = 0.0
    top_p = gen_kwargs.get("top_p")
    top_k = gen_kwargs.get("top_k")
    return GenerationSettings(
        max_new_tokens=int(gen_kwargs.get("max_new_tokens") or 1024), temperature=temperature,
        top_p=float(top_p) if top_p not in (None, 0) else 1.0,
        top_k=int(top_k) if top_k not in (None, 0, -1) else None, n=1, seed=int(gen_kwargs.get("seed") or 0),
        batch_size=batch_size,
    )


def cut_at_stops(text: str, until: Any) -> str:
    stops = [until] if isinstance(until, str) else [s for s in (until or []) if isinstance(s, str) and s]
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]
