"""The ``specs-train`` commands ``pipeline``, ``stage``, ``config`` and ``vllm-serve``.

Why thin: every decision lives in ``training.pipeline`` / ``training.stages``; these
functions only turn flags into a validated ``PipelineConfig`` (preset YAML, then
``--launch``/``--num-processes``, then ``--set key=value`` overrides, in that order) and
print where the results are.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from specs_eval.core.errors import SpecsError
from training.config import PRESETS_DIR, STAGES, PipelineConfig, load_config

QUICK_OVERLAY = PRESETS_DIR / "_quick.yaml"


def _log(msg: str) -> None:
    click.secho(msg, err=True, dim=not msg.startswith("──"))


def _quiet() -> None:
    from training.stages.train import quiet_libraries

    quiet_libraries()


def build_config(preset: str, overrides: tuple[str, ...], launch: str | None, num_processes: int | None,
                 launch_args: tuple[str, ...], quick: bool = False) -> PipelineConfig:
    import yaml

    from training.config import preset_path

    items: list[str] = []
    if quick:
        quick_data = yaml.safe_load(QUICK_OVERLAY.read_text(encoding="utf-8")) or {}
        items += flatten_overrides(quick_data)
    if launch:
        items.append(f"runtime.launch={launch}")
    if num_processes:
        items.append(f"runtime.num_processes={num_processes}")
    if launch_args:
        items.append("runtime.launch_args=" + yaml.safe_dump(list(launch_args), default_flow_style=True).strip())
    items += list(overrides)
    return load_config(str(preset_path(preset)), items)


def flatten_overrides(d: dict[str, Any], prefix: str = "") -> list[str]:
    """A nested settings dict as ``--set`` items (``a.b=<json>``), so YAML overlays and
    command-line overrides go through the same typed path."""
    import json

    out = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out += flatten_overrides(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}={json.dumps(v)}")
    return out


_common = [
    click.option("--preset", default="tiny", show_default=True, help="Preset name (see `specs-train config --list`) "
                 "or a YAML file."),
    click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                 help="Override a setting, e.g. --set cold_start.method=sft (repeatable)."),
    click.option("--launch", help="none | an accelerate profile (cpu, single_gpu, multi_gpu, zero2, zero3, fsdp2, "
                 "multi_node) | a profile YAML."),
    click.option("--num-processes", type=click.IntRange(min=1), help="Training processes (global batch sizes stay)."),
    click.option("--launch-arg", "launch_args", multiple=True, help="Extra `accelerate launch` flag (repeatable)."),
    click.option("--quick", is_flag=True, help="Tiny step counts and eval sizes (a smoke run, not a result)."),
]


def common_options(f):  # type: ignore[no-untyped-def]
    for opt in reversed(_common):
        f = opt(f)
    return f


@click.command()
@common_options
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Pipeline directory.")
@click.option("--redo", multiple=True, type=click.Choice(["base", "zero-rl", "distill", "cold-start", "rl"]),
              help="Start this stage (and all later ones) over.")
@click.option("--until", type=click.Choice(["base", "zero-rl", "distill", "cold-start", "rl"]),
              help="Stop after this stage.")
@click.option("--no-report", is_flag=True, help="Skip report.html (summary.md is always written).")
def pipeline(preset, overrides, launch, num_processes, launch_args, quick, out, redo, until, no_report) -> None:
    """Run zero-RL → distill → cold start → RL with an eval after each; rerun to resume.

    \b
    Examples:
      specs-train pipeline --preset tiny --out runs/specs-tiny
      specs-train pipeline --preset tiny --out runs/sft --set cold_start.method=sft
      specs-train pipeline --preset qwen2.5-vl-7b --out runs/7b --launch fsdp2 --num-processes 8
    """
    from training.pipeline import SUMMARY_MD, run_pipeline, write_pipeline_report

    config = build_config(preset, overrides, launch, num_processes, launch_args, quick)
    _quiet()
    _log(f"pipeline {config.name} → {out}")
    run_pipeline(config, out, redo=redo, until=until, log=_log)
    click.echo((out / SUMMARY_MD).read_text(encoding="utf-8"))
    report = None if no_report else write_pipeline_report(out, log=_log)
    if report is not None:
        click.echo(f"report: {report}")


@click.command()
@click.argument("name", type=click.Choice(list(STAGES)))
@common_options
@click.option("--from", "from_model", required=True, help="Input model (shipped name, folder or hub id).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Stage directory.")
@click.option("--pairs", type=click.Path(exists=True, path_type=Path),
              help="cold-start: a distill stage folder or its pairs.jsonl.")
@click.option("--chosen-from", help="distill: the model to take chosen responses from (default: --from, i.e. the "
              "base-model ablation; the pipeline uses its zero-RL model).")
@click.option("--eval/--no-eval", "do_eval", default=None, help="Evaluate the trained model (default: per preset).")
@click.option("--redo", is_flag=True, help="Delete the stage directory first.")
def stage(name, preset, overrides, launch, num_processes, launch_args, quick, from_model, out, pairs, chosen_from,
          do_eval, redo) -> None:
    """Run one stage alone on a given model (resumable like the pipeline).

    \b
    Examples:
      specs-train stage zero-rl --from tiny-base --out runs/zero
      specs-train stage distill --from tiny-base --chosen-from runs/zero/model --out runs/pairs
      specs-train stage cold-start --from tiny-base --pairs runs/pairs --out runs/cold --set cold_start.method=dpo
      specs-train stage eval --from runs/cold/model --out runs/cold-eval
    """
    from training.stages.base import StageContext, file_ref, model_ref, run_stage

    config = build_config(preset, overrides, launch, num_processes, launch_args, quick)
    _quiet()
    inputs: dict[str, str]
    if name == "distill":
        inputs = {"base": from_model, "chosen_model": chosen_from or from_model}
    elif name == "cold-start":
        if pairs is None:
            raise click.UsageError("cold-start needs --pairs (a distill stage folder or pairs.jsonl)")
        p = pairs / "pairs.jsonl" if pairs.is_dir() else pairs
        inputs = {"model": from_model, "pairs": str(p)}
    else:
        inputs = {"model": from_model}
    if redo and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    refs = {k: (file_ref("pairs", Path(v)) if k == "pairs" else model_ref(v)) for k, v in inputs.items()}
    evaluate = (name in config.eval.after and config.eval.enabled) if do_eval is None else do_eval
    ctx = StageContext(stage=name, dir=out, config=config, inputs=inputs, run_name=out.name,
                       evaluate=evaluate and name != "eval" and name != "distill", log=_log, input_refs=refs)
    m = run_stage(ctx)
    click.echo(f"{name}: {m.status} in {out} ({m.wall_s:.0f} s)")
    ev = m.metrics.get("eval")
    if ev:
        for bench, by_split in ev["results"].items():
            for split, r in by_split.items():
                acc, fmt = r["accuracy"], r["format_compliance"]
                click.echo(f"  {bench}/{split}: accuracy " + ("—" if acc is None else f"{100 * acc:.1f}%")
                           + ("" if fmt is None else f", format {100 * fmt:.1f}%"))


@click.command("config")
@common_options
@click.option("--list", "list_only", is_flag=True, help="List presets and accelerate profiles.")
def show_config(preset, overrides, launch, num_processes, launch_args, quick, list_only) -> None:
    """Print the resolved config (preset + overrides) with the derived per-device batches."""
    import yaml

    from training.config import list_presets
    from training.launch import list_profiles

    if list_only:
        click.echo("presets: " + ", ".join(list_presets()))
        click.echo("accelerate profiles: " + ", ".join(list_profiles()))
        return
    config = build_config(preset, overrides, launch, num_processes, launch_args, quick)
    click.echo(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    from training.methods import COLD_START_METHODS
    from training.stages.train import cold_start_args, grpo_args

    n = config.runtime.num_processes
    for key, stage in (("zero_rl", "zero-rl"), ("rl", "rl")):
        c = getattr(config, key)
        a = grpo_args(c, config, stage, Path("."), nproc=n)
        click.echo(f"# {key}: {c.global_batch_size} completions/step = {a['per_device_train_batch_size']} per device × "
                   f"{n} processes × {a['gradient_accumulation_steps']} accumulation")
        for line in describe_units(c, config.stage_data(stage), key):
            click.echo(f"#   {line}")
    c = config.cold_start
    a = cold_start_args(c, config, Path("."), nproc=n)
    unit = "examples" if COLD_START_METHODS[c.method].trainer == "sft" else "pairs"
    click.echo(f"# cold_start: {c.global_batch_size} {unit}/step = "
               f"{a['per_device_train_batch_size']} per device × {n} processes × {a['gradient_accumulation_steps']} "
               "accumulation")


def pool_estimate(data: Any) -> tuple[int | None, str]:
    """The number of prompts a stage draws from (for epochs), and where that number comes from."""
    from training.data import POOL_BENCHMARKS, detect_layout, pool_hub_ids

    if data.limit:
        return data.limit, f"data.limit = {data.limit:,}"
    refs = [data.hf_id] if isinstance(data.hf_id, str) else list(data.hf_id or [])
    names = [pool_hub_ids().get(r) or detect_layout(r) for r in refs] if refs else [data.benchmark]
    if names and all(n in POOL_BENCHMARKS for n in names):
        from specs_eval.benchmarks import get_benchmark

        sizes = {n: get_benchmark(n).published_rows for n in names}
        if all(sizes.values()):
            total = sum(v for v in sizes.values() if v)
            parts = " + ".join(f"{n} ≈{v:,}" for n, v in sizes.items())
            return total, f"≈{total:,} ({parts}, published sizes; the stage manifest records the rows kept)"
    return None, "unknown until the data is loaded (the stage manifest records it)"


def describe_units(c: Any, data: Any, key: str) -> list[str]:
    """Both step units of a GRPO stage, the prompts it sees and its epochs over the pool, plus the other reading."""
    if c.max_steps <= 0:
        return [f"{c.num_train_epochs} epoch(s) over the prompts (max_steps <= 0)"]
    per = c.optimizer_steps_per_rollout
    pool, where = pool_estimate(data)
    other_unit = (f"{c.optimizer_steps:,} optimizer steps (trl max_steps)" if c.steps_unit == "rollout"
                  else f"{c.rollout_steps:,.6g} rollout steps")
    lines = [f"{c.max_steps:,} {c.steps_unit} steps (steps_unit: {c.steps_unit}) = {other_unit}",
             f"each rollout step: {c.prompts_per_generation} prompts × {c.num_generations} = {c.generation_batch_size} "
             f"completions = {per:g} optimizer step(s) of {c.global_batch_size} (num_iterations {c.num_iterations})",
             f"prompts seen: {c.prompts_seen:,.0f} ({c.prompts_seen * c.num_generations:,.0f} completions)"
             + (f"; {c.prompts_seen / pool:.3g} epochs over the pool of {where}" if pool else f"; pool {where}")]
    if per != 1:
        other = "optimizer" if c.steps_unit == "rollout" else "rollout"
        alt = c.model_copy(update={"steps_unit": other})
        lines.append(f"other reading: --set {key}.steps_unit={other} → {alt.optimizer_steps:,} optimizer steps, "
                     f"{alt.prompts_seen:,.0f} prompts" + (f", {alt.prompts_seen / pool:.3g} epochs" if pool else ""))
    return lines


@click.command("vllm-serve", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--model", required=True, help="The model to serve for GRPO generation (vllm_mode=server).")
@click.pass_context
def vllm_serve(ctx: click.Context, model: str) -> None:
    """Start trl's vLLM generation server (`trl vllm-serve`); extra flags pass through.

    Pair it with `--set rl.use_vllm=true --set rl.vllm_mode=server --set rl.vllm_server_base_url=http://HOST:8000`
    and put server and trainer on different GPUs (CUDA_VISIBLE_DEVICES). Needs vLLM (GPU only).
    """
    from specs_eval.models.loading import resolve_model

    if importlib.util.find_spec("vllm") is None:
        raise SpecsError("vllm-serve needs vLLM, which is not installed (GPU only: pip install 'trl[vllm]')")
    cmd = [sys.executable, "-c", "import sys; from trl.cli import main; sys.exit(main())", "vllm-serve", "--model", resolve_model(model), *ctx.args]
    sys.exit(subprocess.call(cmd, env=dict(os.environ)))
