"""Cold-start methods: the one place a method is defined.

Why a registry: the pipeline config, the GF study and the trainer dispatch all name the
methods; each reads them from ``COLD_START_METHODS``, so a new cold start (say, ORPO) is
one ``ColdStartMethod`` here plus, if it needs one, a trainer in ``stages/train.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ColdStartMethod:
    name: str
    description: str
    #: the trl trainer that runs it
    trainer: Literal["sft", "dpo"]
    #: extra trl config arguments from the cold-start config (loss types and weights, DPO β)
    trainer_args: Callable[[Any], dict[str, Any]]


def _dpo_args(cfg: Any, sft_weight: float) -> dict[str, Any]:
    # trl 1.16: the hybrid loss is loss_type=["sigmoid", "sft"] with loss_weights=[1, λ]
    losses, weights = (["sigmoid", "sft"], [1.0, sft_weight]) if sft_weight > 0 else (["sigmoid"], [1.0])
    return {"beta": cfg.beta, "loss_type": losses, "loss_weights": weights}


COLD_START_METHODS: dict[str, ColdStartMethod] = {m.name: m for m in (
    ColdStartMethod("sft", "SFT on the chosen responses", "sft", lambda cfg: {}),
    ColdStartMethod("dpo", "DPO on the self-distilled pairs (λ = 0)", "dpo", lambda cfg: _dpo_args(cfg, 0.0)),
    ColdStartMethod("dpo+sft", "L_DPO + λ·L_SFT on the chosen responses (the paper's SPECS cold start)", "dpo",
                    lambda cfg: _dpo_args(cfg, cfg.sft_weight)),
)}


def check_method(name: str) -> str:
    if name not in COLD_START_METHODS:
        raise ValueError(f"unknown cold-start method {name!r}; known: {', '.join(COLD_START_METHODS)}")
    return name
