"""Pipeline configuration: preset YAML → validated pydantic models, ``--set`` overrides, batch maths.

Why pydantic with ``extra="forbid"``: a typo in a 7B run's config (``cold_start.lamda``)
must fail before hours of GPU time, with the key named. Presets state *global* batch
sizes (pairs or completions per optimizer step), as the paper does; per-device batch and
gradient accumulation are derived from the number of processes at launch, so the same
preset gives the same optimisation on 1 CPU process or 64 GPUs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticUndefined

from specs_eval.core.errors import SpecsError
from specs_eval.core.study import GFStudySpec
from training.methods import check_method

SCHEMA_VERSION = 1
PRESETS_DIR = Path(__file__).resolve().parent / "presets"
STAGES = ("zero-rl", "distill", "cold-start", "rl", "eval")
# stage name -> config attribute
STAGE_KEYS = {"zero-rl": "zero_rl", "distill": "distill", "cold-start": "cold_start", "rl": "rl", "eval": "eval"}


class ConfigError(SpecsError):
    """A bad preset, override or combination of settings."""


def TrlField(default: Any = PydanticUndefined, **kwargs: Any) -> Any:
    """A setting passed as is to the trl config under the same name (``trl_kwargs``).

    Declared here for its paper default, validation and docs; ``tests/test_train_config.py``
    checks every such name exists in the trl config class it goes to.
    """
    return Field(default, json_schema_extra={"trl": True}, **kwargs)


def trl_kwargs(cfg: BaseModel) -> dict[str, Any]:
    """The ``TrlField`` settings of a stage config that are set (``None`` leaves trl's default)."""
    out = {}
    for name, f in type(cfg).model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        value = getattr(cfg, name)
        if extra.get("trl") and value is not None:
            out[name] = list(value) if isinstance(value, list) else value
    return out


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RuntimeConfig(_Cfg):
    """Where and how stages run. None of this changes results except ``seed`` and ``bf16``."""

    launch: str = Field("none", description="'none' (train in this process), an accelerate profile name "
                        "(cpu, single_gpu, multi_gpu, zero2, zero3, fsdp2, multi_node) or a profile YAML path")
    num_processes: int = Field(1, ge=1, description="processes for training stages (accelerate --num_processes)")
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int | None = Field(2, ge=1, description="torch CPU threads in total (split between processes)")
    bf16: bool = False
    gradient_checkpointing: bool = False
    per_device_micro_batch: int = Field(32, ge=1, description="largest per-device batch one forward may take")
    seed: int = 0
    launch_args: list[str] = Field(default_factory=list, description="extra `accelerate launch` flags")


class DataConfig(_Cfg):
    """Prompts for RL and distillation: a benchmark split, local files, or a Hugging Face dataset."""

    benchmark: str = "toyworld"
    split: str = "train"
    path: str | None = Field(None, description="local files in the benchmark's schema (--data of specs-eval)")
    hf_id: str | list[str] | None = Field(None, description="Hugging Face dataset id(s), converted once to local "
                                          "MathVista-schema files (several ids are concatenated)")
    hf_split: str = "train"
    hf_config: str | None = None
    hf_revision: str | None = None
    columns: dict[str, str] = Field(default_factory=dict, description="raw column -> role (question, answer, "
                                    "image, id, choices) for hf_id/raw data")
    limit: int | None = Field(512, ge=1)
    prompt_variant: str = "official"
    seed: int = 0
    kinds: list[str] | None = Field(None, description="RL-pool rows (orsta, virl39k) by answer kind: mc, yesno, math, "
                                    "detection, grounding (default: every kind the rules verify); the others are "
                                    "excluded and counted")
    free_text: Literal["exclude", "judge"] = Field("exclude", description="RL-pool rows whose gold is free text (the "
                                                   "rules cannot verify it): exclude them (counted), or keep them for "
                                                   "the stage's reward_judge")

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str] | None) -> list[str] | None:
        from specs_eval.rules.rlpool import RULE_KINDS

        bad = [k for k in v or [] if k not in RULE_KINDS]
        if bad:
            raise ValueError(f"data.kinds: unknown kind(s) {bad}; use {', '.join(RULE_KINDS)} (free-text rows: "
                             "data.free_text)")
        return v


class RewardJudgeConfig(_Cfg):
    """Optional LLM judge term of the accuracy reward, for free-text golds the rules cannot verify.

    The paper scored short answers with GPT-4o in its RL reward. Off by default; when on,
    only rows of ``data.free_text: judge`` are sent, requests are cached on disk by their
    hash, at most ``max_concurrency`` run at once, and every failure is counted in the step
    metrics (``judge/*``) and gives the sample no accuracy reward (trl's ``None``), never 0 or 1.
    """

    enabled: bool = False
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, description="retries of a request on 429/5xx/timeouts (with backoff)")
    max_concurrency: int = Field(8, ge=1, description="judge requests in flight at once")
    max_failure_rate: float = Field(0.5, ge=0, le=1, description="stop the stage when more of a step's judge requests "
                                    "fail than this")

    @model_validator(mode="after")
    def _check(self) -> RewardJudgeConfig:
        if self.enabled and not (self.base_url and self.model):
            raise ValueError("reward_judge.enabled needs reward_judge.base_url and reward_judge.model")
        return self


REPORT_TO = ("none", "wandb", "tensorboard", "trackio", "mlflow", "comet_ml", "clearml", "dvclive", "swanlab")


def _report_to(v: Any) -> list[str]:
    """``report_to`` as a list (``wandb``, ``[wandb, tensorboard]``, ``none``); unknown names are errors."""
    items = [v] if isinstance(v, str) else list(v or ["none"])
    items = [str(i).strip() for i in items if str(i).strip()]
    bad = [i for i in items if i not in REPORT_TO]
    if bad:
        raise ValueError(f"report_to: unknown tracker(s) {bad}; use {', '.join(REPORT_TO)}")
    if "none" in items and len(items) > 1:
        raise ValueError("report_to: 'none' cannot be combined with a tracker")
    return items or ["none"]


class _TrainStage(_Cfg):
    """What every training stage shares: optimiser, checkpointing and tracker settings (passed to trl)."""

    learning_rate: float = TrlField(1e-6)
    warmup_steps: float = TrlField(0.0, ge=0, description="warmup: a fraction of the steps if < 1, else a step count")
    weight_decay: float = TrlField(0.0)
    max_grad_norm: float = TrlField(1.0)
    save_steps: int = TrlField(50, ge=1)
    save_total_limit: int | None = TrlField(1, ge=1, description="checkpoints kept (the newest); resume needs one; "
                                            "null keeps all")
    logging_steps: int = TrlField(1, ge=1)
    report_to: list[str] = TrlField(default_factory=lambda: ["none"], description="trackers trl logs to: none, wandb, "
                                    "tensorboard, … (the tracker's package must be installed)")
    keep_optimizer_state: bool = Field(False, description="keep optimizer/scheduler/RNG state in the checkpoints of a "
                                       "finished stage (only an unfinished stage resumes from them)")

    @field_validator("report_to", mode="before")
    @classmethod
    def _trackers(cls, v: Any) -> list[str]:
        return _report_to(v)


class GRPOStageConfig(_TrainStage):
    """A GRPO stage (zero-RL and final RL): DAPO-style loss with clip-higher, no KL by default.

    Step units: a *rollout step* generates ``prompts_per_generation × num_generations``
    completions; an *optimizer step* updates on ``global_batch_size`` of them, so one rollout
    step is ``generation_batch_size / global_batch_size × num_iterations`` optimizer steps.
    ``max_steps`` counts ``steps_unit`` (trl's own ``max_steps`` always counts optimizer steps;
    OpenRLHF, MM-EUREKA and EasyR1 count rollout steps).
    """

    enabled: bool = True
    max_steps: int = Field(100, description="stage length in steps_unit; <= 0 means use num_train_epochs")
    steps_unit: Literal["optimizer", "rollout"] = Field("optimizer", description="what max_steps counts: optimizer "
                                                        "steps (trl) or rollout steps (OpenRLHF/MM-EUREKA/EasyR1)")
    num_iterations: int = TrlField(1, ge=1, description="policy updates per generated batch (GRPO's μ)")
    num_train_epochs: float = 1.0
    lr_scheduler_type: str = TrlField("constant")
    prompts_per_generation: int = Field(8, ge=1, description="rollout batch, in prompts")
    num_generations: int = TrlField(8, ge=2, description="rollouts per prompt")
    global_batch_size: int = Field(64, ge=1, description="completions per optimizer step, over all processes")
    max_completion_length: int = TrlField(256, ge=1)
    temperature: float = TrlField(1.0, gt=0)
    top_p: float = TrlField(1.0, gt=0, le=1)
    epsilon: float = TrlField(0.2, gt=0, description="lower clip")
    epsilon_high: float = TrlField(0.28, gt=0, description="upper clip (clip-higher)")
    beta: float = TrlField(0.0, ge=0, description="KL coefficient; 0 = no reference model")
    loss_type: str = TrlField("dapo")
    scale_rewards: str = TrlField("group")
    mask_truncated_completions: bool = TrlField(True)
    reward_weights: list[float] = TrlField(default_factory=lambda: [1.0, 1.0], description="format, accuracy")
    use_vllm: bool = TrlField(False)
    vllm_mode: Literal["colocate", "server"] = TrlField("colocate")
    vllm_server_base_url: str | None = TrlField(None)
    vllm_server_timeout: float = TrlField(240.0)
    vllm_gpu_memory_utilization: float = TrlField(0.3)
    vllm_tensor_parallel_size: int = TrlField(1)
    vllm_enable_sleep_mode: bool = TrlField(False)
    vllm_max_model_length: int | None = TrlField(None)
    snap_images: Literal["auto", "on", "off"] = Field("auto", description="resize images to the processor's own grid "
                                                      "before trl/vLLM see them (auto: when use_vllm)")
    vllm_guard: Literal["refuse", "warn"] = Field("refuse", description="a known-bad trl + vLLM combination with "
                                                  "images (trl colocate double expansion): refuse, or only warn")
    detection_iou: str = Field("dynamic", description="IoU threshold of detection rewards: dynamic (0.85/0.95/0.99 "
                               "by progress, as the Orsta authors trained), average, or one of 0.5…0.99")
    reward_judge: RewardJudgeConfig = Field(default_factory=RewardJudgeConfig)
    data: DataConfig | None = Field(None, description="prompts for this stage (default: the pipeline's data)")
    trainer_overrides: dict[str, Any] = Field(default_factory=dict, description="any GRPOConfig field, as is")

    @field_validator("detection_iou")
    @classmethod
    def _detection_iou(cls, v: str) -> str:
        from specs_eval.rules.detection import threshold_for

        try:
            threshold_for(v, 0.0)
        except ValueError as e:
            raise ValueError(f"detection_iou: {e}; or use dynamic / average") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> GRPOStageConfig:
        if self.epsilon_high < self.epsilon:
            raise ValueError(f"epsilon_high ({self.epsilon_high}) must be >= epsilon ({self.epsilon}) (clip-higher)")
        if len(self.reward_weights) != 2:
            raise ValueError("reward_weights needs two values: format, accuracy")
        if self.vllm_mode == "server" and self.use_vllm and not self.vllm_server_base_url:
            raise ValueError("vllm_mode=server needs vllm_server_base_url (start one with `specs-train vllm-serve`)")
        return self

    @property
    def generation_batch_size(self) -> int:
        return self.prompts_per_generation * self.num_generations

    @property
    def optimizer_steps_per_rollout(self) -> float:
        """Optimizer steps per rollout step: ``generation_batch_size / global_batch_size × num_iterations``."""
        return self.generation_batch_size / self.global_batch_size * self.num_iterations

    @property
    def optimizer_steps(self) -> int:
        """trl's ``max_steps`` (<= 0: epochs decide)."""
        if self.max_steps <= 0 or self.steps_unit == "optimizer":
            return self.max_steps
        return round(self.max_steps * self.optimizer_steps_per_rollout)

    @property
    def rollout_steps(self) -> float:
        if self.max_steps <= 0 or self.steps_unit == "rollout":
            return self.max_steps
        return self.max_steps / self.optimizer_steps_per_rollout

    @property
    def prompts_seen(self) -> float:
        return self.rollout_steps * self.prompts_per_generation if self.max_steps > 0 else float("nan")


class JudgeConfig(_Cfg):
    """Optional LLM consistency check of chosen responses (the paper used Gemini-2.5-flash)."""

    enabled: bool = False
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 16
    timeout_s: float = 60.0

    @model_validator(mode="after")
    def _check(self) -> JudgeConfig:
        if self.enabled and not (self.base_url and self.model):
            raise ValueError("judge.enabled needs judge.base_url and judge.model")
        return self


class DistillConfig(_Cfg):
    """Self-distilled preference pairs: chosen from the zero-RL model, rejected from the base, corrupted."""

    enabled: bool = True
    chosen_from: str = Field("zero-rl", description="zero-rl | base | a model (teacher distillation)")
    pair_mode: Literal["decoupled", "coupled"] = "decoupled"
    samples_per_prompt: int = Field(4, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(256, ge=1)
    batch_size: int = Field(32, ge=1)
    backend: str = Field("hf", description="sampling backend of the run engine: hf | vllm | openai")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="e.g. {tp: 2} for vllm")
    pairs_per_prompt: int = Field(1, ge=1)
    min_pairs: int = Field(1, ge=1, description="fewer pairs than this after filtering is an error")
    seed: int = Field(0, description="sampling, pairing and corruption seed (prompts come from data.seed)")
    data: DataConfig | None = None
    judge: JudgeConfig = Field(default_factory=JudgeConfig)


class ColdStartConfig(_TrainStage):
    """The cold start: SFT on chosen, DPO, or DPO + λ·SFT (the paper's hybrid loss, λ = 1)."""

    enabled: bool = True
    method: str = Field("dpo+sft", description="a cold-start method of training.methods: sft, dpo, dpo+sft")
    sft_weight: float = Field(1.0, ge=0, description="λ of L_DPO + λ·L_SFT")
    beta: float = Field(0.1, gt=0, description="DPO β")
    lr_scheduler_type: str = TrlField("cosine")
    global_batch_size: int = Field(64, ge=1, description="pairs (or SFT examples) per optimizer step")
    num_train_epochs: float = 1.0
    max_steps: int = Field(-1, description="> 0 overrides num_train_epochs")
    max_length: int | None = TrlField(16384)
    trainer_overrides: dict[str, Any] = Field(default_factory=dict, description="any DPOConfig/SFTConfig field")

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        return check_method(v)


class EvalTask(_Cfg):
    benchmark: str = "toyworld"
    splits: list[str] = Field(default_factory=lambda: ["id", "ood_visual", "ood_task", "ood_format"])
    data: str | None = None
    limit: int | None = 100
    prompt_variant: str = "official"
    data_seed: int = Field(0, description="generated benchmarks (toy world): which items")


class EvalConfig(_Cfg):
    """The harness run after each model-producing stage (and on the base)."""

    enabled: bool = True
    after: list[str] = Field(default_factory=lambda: ["base", "zero-rl", "cold-start", "rl"])
    tasks: list[EvalTask] = Field(default_factory=lambda: [EvalTask()])
    study: GFStudySpec | None = Field(None, description="a GF study spec (shipped name, YAML file or mapping) whose "
                                      "ID/OOD sets are evaluated too and recorded, so every stage's eval reports Γ")
    max_new_tokens: int | None = None
    batch_size: int = 32
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = Field(0, description="sampling seed")
    backend: str = Field("hf", description="hf | vllm | openai (specs_eval backends)")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="e.g. {tp: 4} for vllm")

    @field_validator("study", mode="before")
    @classmethod
    def _study(cls, v: Any) -> Any:
        if v is None or isinstance(v, GFStudySpec):
            return v
        from specs_eval.benchmarks.study import load_spec

        try:
            return load_spec(v)
        except SpecsError as e:
            raise ValueError(str(e)) from None

    @field_validator("after")
    @classmethod
    def _after(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in ("base", "zero-rl", "cold-start", "rl")]
        if bad:
            raise ValueError(f"eval.after: unknown stage(s) {bad}; use base, zero-rl, cold-start, rl")
        return v


class PipelineConfig(_Cfg):
    schema_version: int = SCHEMA_VERSION
    name: str = "custom"
    description: str = ""
    base_model: str = "tiny-base"
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    zero_rl: GRPOStageConfig = Field(default_factory=GRPOStageConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    cold_start: ColdStartConfig = Field(default_factory=ColdStartConfig)
    rl: GRPOStageConfig = Field(default_factory=GRPOStageConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _free_text(self) -> PipelineConfig:
        for key, stage in (("zero_rl", "zero-rl"), ("rl", "rl")):
            cfg = getattr(self, key)
            if cfg.enabled and self.stage_data(stage).free_text == "judge" and not cfg.reward_judge.enabled:
                raise ValueError(f"{key}: data.free_text=judge needs {key}.reward_judge.enabled (with base_url and "
                                 "model); without a judge, free-text rows cannot be scored")
        if self.distill.enabled and self.stage_data("distill").free_text == "judge":
            raise ValueError("distill: data.free_text=judge: the distill stage scores samples by rules only; set "
                             "distill.data.free_text=exclude")
        return self

    def stage_config(self, stage: str) -> BaseModel:
        return getattr(self, STAGE_KEYS[stage])

    def stage_data(self, stage: str) -> DataConfig:
        own = getattr(self.stage_config(stage), "data", None)
        return own if own is not None else self.data

    def stage_hash(self, stage: str) -> str:
        """What decides a stage's outputs besides its inputs: its config, its data, seed and precision.

        Eval settings are not part of it (not even for the ``eval`` stage): a changed eval
        re-evaluates the same model instead of invalidating the stage.
        """
        payload = {
            "stage": stage,
            "config": self.stage_config(stage).model_dump(mode="json") if stage != "eval" else None,
            "data": self.stage_data(stage).model_dump(mode="json") if stage != "eval" else None,
            "seed": self.runtime.seed,
            "bf16": self.runtime.bf16,
        }
        return _hash(payload)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def list_presets(presets_dir: Path = PRESETS_DIR) -> list[str]:
    """Shipped presets by name; files starting with ``_`` are overlays, not presets."""
    return sorted(p.stem for p in presets_dir.glob("*.yaml") if not p.stem.startswith("_"))


def preset_path(name_or_path: str, presets_dir: Path = PRESETS_DIR, what: str = "preset") -> Path:
    """A preset YAML by shipped name or by path; an unknown name is an error with a did-you-mean hint."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError(f"{what} file not found: {p}")
        return p
    candidate = presets_dir / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = list_presets(presets_dir)
    hint = difflib.get_close_matches(name_or_path, known, n=1)
    more = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ConfigError(f"unknown {what} {name_or_path!r}{more}; known: {', '.join(known)}")


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` → (["a","b","c"], value), the value parsed as YAML (numbers, lists, null…)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: use key.path=value")
    key, raw = item.split("=", 1)
    parts = [p.strip().replace("-", "_") for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {item!r}: cannot parse the value ({e})") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        parts, value = parse_override(item)
        node = data
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, f in model.model_fields.items():
        keys.append(prefix + name)
        ann = f.annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                keys.extend(_known_keys(cand, prefix + name + "."))
    return keys


def _explain(e: ValidationError) -> str:
    msgs = []
    known = _known_keys(PipelineConfig)
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(loc, known, n=1)
            msgs.append(f"unknown key {loc!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        else:
            msgs.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(msgs)


def load_config(preset: str | None = None, overrides: list[str] | None = None,
                data: dict[str, Any] | None = None) -> PipelineConfig:
    """A preset (name or path) or a config dict, with ``--set`` overrides applied, validated."""
    if data is None:
        data = {}
        if preset:
            path = preset_path(preset)
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"preset {path}: not valid YAML ({e})") from None
            if not isinstance(data, dict):
                raise ConfigError(f"preset {path}: expected a mapping at the top level")
    data = apply_overrides(json.loads(json.dumps(data)), overrides or [])
    if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ConfigError(f"config schema_version {data.get('schema_version')} is not {SCHEMA_VERSION}")
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"config: {_explain(e)}") from None


def derive_batch(global_batch: int, num_processes: int, micro_batch: int, what: str = "batch",
                 multiple_of: int = 1) -> tuple[int, int]:
    """(per-device batch, gradient accumulation) with per_device * processes * accumulation == global.

    ``per_device`` is the largest divisor of ``global / processes`` that fits ``micro_batch``
    (and is a multiple of ``multiple_of`` when possible), so the global batch is exact.
    """
    if global_batch % num_processes:
        raise ConfigError(f"{what}: global batch {global_batch} is not divisible by {num_processes} processes; "
                          "pick a multiple")
    local = global_batch // num_processes
    divisors = [d for d in range(1, local + 1) if local % d == 0 and d <= micro_batch]
    preferred = [d for d in divisors if d % multiple_of == 0]
    per_device = max(preferred or divisors)
    return per_device, local // per_device
