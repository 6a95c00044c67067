"""``specs-train bootstrap``: train the tiny base VLM from scratch, offline, on a CPU.

Why a base of our own: the SPECS pipeline (GRPO-zero → DPO cold start → GRPO) needs a
starting point that behaves like Qwen2.5-VL-7B-Instruct in miniature: it reads the image
and reasons correctly more often than its final answer shows (so RL with a verifiable
reward has a latent skill to unlock), follows format instructions only part of the time,
and gives varied samples. No such checkpoint can be downloaded here, so we train one: a
phrase-level byte BPE on toy-world text, a ~2M-parameter Qwen2.5-VL from
``specs_eval.models.tiny``, and a plain torch loop over fresh ``bootstrap``-split items
(the loop is several times faster than trl on two cores). Targets come from
``training.targets``: grounded, correct reasoning; a final answer that is sometimes an
image-blind guess; the requested format only sometimes.

The loss covers only the response tokens (target + ``<|im_end|>``); the prompt is the exact
chat-formatted prompt evaluation uses, so the base sees at training time what it will
see at test time. A second loss (``Perception``) trains the vision tower to say what is
drawn in each visual-token cell: without it the LM reads nothing but colours within the
step budget (measured: bars, counts and digits stay at the answer prior for 1400+ steps). Item ``i`` of step ``s`` is ``make_item('bootstrap', s*B+i, seed)``, so a
killed run that resumes from its saved state ends with the same weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from specs_eval.benchmarks.toyworld import world
from specs_eval.core.errors import SpecsError
from specs_eval.models import tiny
from specs_eval.rules.formats import FORMATS
from training.targets import STYLES, AnswerPrior, TargetMix, render_target

SPLIT = "bootstrap"
TARGET_STREAM = "bootstrap-target"  # item_rng stream that picks each target's style
RESUME_DIR = "resume"
LOG_FILE = "train_log.jsonl"
META_FILE = "specs_eval.json"
KIND = "specs-train bootstrap"
# Files of ours in an output folder: anything else there means --out is somebody else's folder.
_OWN_FILES = {RESUME_DIR, LOG_FILE, META_FILE}


@dataclass
class BootstrapConfig:
    """The recipe. Defaults are the shipped ``tiny-base`` checkpoint's recipe."""

    out: str
    steps: int = 5000
    seed: int = 0
    size: str = "small"
    batch_size: int = 16
    lr: float = 1.5e-3
    # beta2 0.95 rather than torch's 0.999: the tiny model sits on loss plateaus (before it
    # learns to look things up in the prompt and the image) about a third shorter.
    adam_betas: tuple[float, float] = (0.9, 0.95)
    warmup: int = 100
    init_std: float = 0.08
    vision_lr_scale: float = 1.0
    # Weight of the dense perception loss: a linear head on the vision tower's merged tokens
    # predicts what is drawn in each cell (``families.CELL_LABELS``). It stands in for the
    # pretrained image encoder every real VLM starts from; the head is not saved. 0 turns it off.
    perception_weight: float = 1.0
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    tokenizer_items: int = 2000
    prior_items: int = 5000
    eval_every: int = 200
    eval_items: int = 64
    checkpoint_every: int = 50
    log_every: int = 10
    final_eval_items: int = 200
    diversity_items: int = 64
    threads: int = 2
    resume: bool = True
    keep_state: bool = False
    mix: TargetMix = field(default_factory=TargetMix)

    def recipe(self) -> dict[str, Any]:
        """What must match for a resumed run to be the same run (``steps`` may grow)."""
        keys = ("seed", "size", "init_std", "vision_lr_scale", "perception_weight", "batch_size", "lr", "adam_betas",
                "warmup", "min_lr_ratio", "weight_decay", "grad_clip", "tokenizer_items", "prior_items")
        return {k: getattr(self, k) for k in keys} | {"mix": self.mix.to_dict()}

    def command(self) -> str:
        """The ``specs-train`` command that reproduces this run."""
        out = Path(self.out)
        try:
            shown = str(out.resolve().relative_to(Path.cwd().resolve())) if out.is_absolute() else str(out)
        except ValueError:  # never record a machine path
            shown = "OUT"
        parts = [f"specs-train bootstrap --out {shown}", f"--steps {self.steps}", f"--seed {self.seed}",
                 f"--size {self.size}", f"--batch-size {self.batch_size}", f"--lr {self.lr:g}",
                 f"--warmup {self.warmup}", f"--threads {self.threads}"]
        return " ".join(parts)


def lr_at(step: int, cfg: BootstrapConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr`` at the last step."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def reinit(model: Any, std: float, seed: int) -> None:
    """Draw every weight matrix from N(0, std²) (biases 0, norms 1).

    Why: transformers' default std of 0.02 suits widths in the hundreds or thousands; at
    width 128 it leaves the tiny model on a long plateau (training loss ~0.45, answers at
    chance for 700+ steps) before attention learns to look up the question and the image.
    With std ≈ 1/sqrt(width) the plateau breaks within a few hundred steps (measured).
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear | torch.nn.Embedding | torch.nn.Conv3d):
                module.weight.normal_(0.0, std, generator=gen)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()


def tokenizer_corpus(n_items: int, seed: int) -> list[str]:
    """Toy-world text: prompts, and every response style and format instruction."""
    corpus = ["user", "assistant"]
    for fmt in FORMATS.values():
        corpus += fmt.instructions
    for row in world.iter_split(SPLIT, n_items, seed):
        corpus.append(f"{row['query']}\n{row['format_instruction']}")
        corpus += [render(row["rationale"], row["answer"]) for render in STYLES.values()]
    return corpus


def build_batch(processor: Any, rows: list[dict[str, Any]], targets: list[str]) -> dict[str, Any]:
    """Right-padded inputs with labels on the response tokens only.

    The prompt goes through the processor (image tokens expanded) and the target is
    tokenized on its own, as generation will see it: prompt ids, then response ids.
    """
    import torch

    from training.quickeval import prompt_text

    tok = processor.tokenizer
    enc = processor(text=[prompt_text(processor, r) for r in rows], images=[r["decoded_image"] for r in rows],
                    return_tensors="pt", padding=True, padding_side="left")
    resp = [tok(t + tok.eos_token, add_special_tokens=False)["input_ids"] for t in targets]
    n_prompt = enc["attention_mask"].sum(1).tolist()
    width = max(p + len(r) for p, r in zip(n_prompt, resp, strict=True))
    b = len(rows)
    input_ids = torch.full((b, width), tok.pad_token_id, dtype=torch.long)
    attention = torch.zeros((b, width), dtype=torch.long)
    labels = torch.full((b, width), -100, dtype=torch.long)
    mm_types = torch.zeros((b, width), dtype=enc["mm_token_type_ids"].dtype)
    for i, (p, r) in enumerate(zip(n_prompt, resp, strict=True)):
        input_ids[i, :p] = enc["input_ids"][i, -p:]
        mm_types[i, :p] = enc["mm_token_type_ids"][i, -p:]
        input_ids[i, p : p + len(r)] = torch.tensor(r)
        labels[i, p : p + len(r)] = torch.tensor(r)
        attention[i, : p + len(r)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "mm_token_type_ids": mm_types,
            "pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"]}


def answer_prior(cfg: BootstrapConfig) -> AnswerPrior:
    """The image-blind prior that a guessed final answer comes from: fitted on the run's first
    ``prior_items`` bootstrap items, so it is a pure function of the seed."""
    return AnswerPrior.fit(world.iter_split(SPLIT, cfg.prior_items, cfg.seed))


def step_items(step: int, cfg: BootstrapConfig, prior: AnswerPrior | None = None
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows and targets of one step: a pure function of ``(seed, step)`` (and the seed's prior)."""
    prior = prior or answer_prior(cfg)
    rows, targets = [], []
    for j in range(cfg.batch_size):
        index = step * cfg.batch_size + j
        row = world.make_item(SPLIT, index, cfg.seed)
        text, _ = render_target(row, world.item_rng(cfg.seed, TARGET_STREAM, index), cfg.mix, prior)
        rows.append(row)
        targets.append(text)
    return rows, targets


class Perception:
    """The dense perception loss: what is drawn in each visual-token cell, from the merged tokens.

    A forward hook on the vision tower keeps its merged output (raster order, ``GRID²`` tokens
    per image); a linear head, initialised from the run's seed, classifies each token.
    """

    def __init__(self, model: Any, cfg: BootstrapConfig):
        import torch

        from specs_eval.benchmarks.toyworld.draw import GRID
        from specs_eval.benchmarks.toyworld.families import CELL_LABELS

        self.index = {label: i for i, label in enumerate(CELL_LABELS)}
        self.cells = GRID * GRID
        width = model.config.vision_config.out_hidden_size
        self.head = torch.nn.Linear(width, len(CELL_LABELS))
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        with torch.no_grad():
            self.head.weight.normal_(0.0, cfg.init_std, generator=gen)
            self.head.bias.zero_()
        self._feats: Any = None
        self._handle = model.model.visual.register_forward_hook(self._keep)

    def _keep(self, module: Any, args: Any, output: Any) -> None:
        self._feats = output.pooler_output

    def loss(self, rows: list[dict[str, Any]]) -> Any:
        import torch

        feats, self._feats = self._feats, None
        if feats is None or feats.shape[0] != len(rows) * self.cells:
            raise SpecsError(f"perception loss: expected {len(rows) * self.cells} merged image tokens, "
                             f"got {None if feats is None else feats.shape[0]}")
        labels = torch.tensor([self.index[c] for r in rows for c in r["metadata"]["cells"]])
        return torch.nn.functional.cross_entropy(self.head(feats), labels)

    def close(self) -> None:
        self._handle.remove()


# ---------------------------------------------------------------- output folder


def prepare_out(cfg: BootstrapConfig) -> Path:
    """Check ``--out`` is ours to write; on ``--no-resume`` clear a previous run's files."""
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise SpecsError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (_OWN_FILES & {p.name for p in out.iterdir()}):
        raise SpecsError(f"--out {out} is not empty and holds no bootstrap run; choose a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise SpecsError(f"cannot write to --out {out}: {e.strerror or e}") from None
    if not cfg.resume:
        shutil.rmtree(out / RESUME_DIR, ignore_errors=True)
        (out / LOG_FILE).unlink(missing_ok=True)
        (out / META_FILE).unlink(missing_ok=True)
    return out


def _read_meta(out: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((out / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("kind") == KIND else None


def _trim_log(path: Path, step: int) -> None:
    """Drop log lines written after the state we resume from (they will be written again)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except ValueError:  # a torn last line from a kill
            continue
    path.write_text("".join(x + "\n" for x in keep))


class _Log:
    def __init__(self, path: Path):
        self.path = path

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")


# ---------------------------------------------------------------- training


def run_bootstrap(cfg: BootstrapConfig, on_step: Callable[[int], None] | None = None,
                  console: Any = None) -> dict[str, Any]:
    """Train (or resume, or find finished) a bootstrap run; returns its ``specs_eval.json``.

    ``on_step(step)`` is called after each step, once its checkpoint (if due) is written.
    """
    if cfg.size not in tiny.SIZES:
        raise SpecsError(f"unknown --size {cfg.size!r}; known: {', '.join(tiny.SIZES)}")
    out = prepare_out(cfg)  # before the heavy imports: a bad --out fails at once

    import torch
    from rich.console import Console

    from specs_eval.models.loading import load_processor
    from training import quickeval
    from training.resume import load_state, restore, save_state

    console = console or Console(stderr=True)
    done = _read_meta(out) if cfg.resume else None
    if done and done.get("recipe") == _jsonable(cfg.recipe()) and done.get("steps") == cfg.steps:
        console.print(f"[green]{out} already holds this finished run ({cfg.steps} steps); nothing to do")
        return done
    state_dir = out / RESUME_DIR
    state = load_state(state_dir) if cfg.resume else None
    if state is not None and state["extra"].get("recipe") != _jsonable(cfg.recipe()):
        raise SpecsError(f"{out} holds a bootstrap run with a different recipe; use --no-resume to start over "
                         "or choose another --out")
    if state is None and done is not None:
        raise SpecsError(f"{out} holds a finished run of {done.get('steps')} steps without a resume state "
                         "(it was not kept with --keep-state); use --no-resume to retrain from scratch")
    if state is not None and state["step"] > cfg.steps:
        raise SpecsError(f"{out} is already at step {state['step']} > --steps {cfg.steps}; use --no-resume")
    (out / META_FILE).unlink(missing_ok=True)  # the folder is "finished" only once this is rewritten

    torch.set_num_threads(cfg.threads)
    if state is None:
        shutil.rmtree(state_dir, ignore_errors=True)
        (out / LOG_FILE).unlink(missing_ok=True)
        tokenizer = tiny.train_tokenizer(tokenizer_corpus(cfg.tokenizer_items, cfg.seed), tiny.SIZES[cfg.size].vocab,
                                         words=world.CONTENT_WORDS)
        processor = tiny.build_processor(tokenizer)
        processor.save_pretrained(state_dir)
    else:
        processor = load_processor(str(state_dir))
    model = tiny.build_model(processor.tokenizer, cfg.size, seed=cfg.seed)
    if state is None:
        reinit(model, cfg.init_std, cfg.seed)
    model.train()
    vision = [p for n, p in model.named_parameters() if ".visual." in f".{n}"]
    ids = {id(p) for p in vision}
    groups = [{"params": [p for p in model.parameters() if id(p) not in ids], "lr_scale": 1.0},
              {"params": vision, "lr_scale": cfg.vision_lr_scale}]
    perception = Perception(model, cfg) if cfg.perception_weight > 0 else None
    if perception is not None:
        groups.append({"params": list(perception.head.parameters()), "lr_scale": cfg.vision_lr_scale})
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.adam_betas, weight_decay=cfg.weight_decay)
    start, wall_before = 0, 0.0
    if state is not None:
        start = restore(state, model, optimizer)
        if perception is not None:
            perception.head.load_state_dict(state["extra"]["perception_head"])
        wall_before = float(state["extra"].get("wall_s", 0.0))
        _trim_log(out / LOG_FILE, start)
        console.print(f"resuming {out} from step {start}")
    del state
    log = _Log(out / LOG_FILE)
    prior = answer_prior(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    t0 = time.time()
    loss_sum, loss_n, aux_sum = 0.0, 0, 0.0

    def wall() -> float:
        return wall_before + time.time() - t0

    with _progress(console) as progress:
        task = progress.add_task("bootstrap", total=cfg.steps, completed=start, info="")
        for step in range(start, cfg.steps):
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_scale"]
            rows, targets = step_items(step, cfg, prior)
            lm_loss = model(**build_batch(processor, rows, targets)).loss
            loss = lm_loss
            if perception is not None:
                aux = perception.loss(rows)
                aux_sum += aux.item()
                loss = lm_loss + cfg.perception_weight * aux
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum, loss_n = loss_sum + lm_loss.item(), loss_n + 1
            done_steps = step + 1
            if done_steps % cfg.log_every == 0 or done_steps == cfg.steps:
                extra_log = {"perception_loss": round(aux_sum / loss_n, 5)} if perception is not None else {}
                log.write({"step": done_steps, "loss": round(loss_sum / loss_n, 5), "lr": lr, **extra_log,
                           "wall_s": round(wall(), 1)})
                progress.update(task, info=f"loss {loss_sum / loss_n:.3f}")
                loss_sum, loss_n, aux_sum = 0.0, 0, 0.0
            if (cfg.eval_every and done_steps % cfg.eval_every == 0) or done_steps == cfg.steps:
                ev = quickeval.evaluate(model, processor, "id", cfg.eval_items)
                log.write({"step": done_steps, "eval": ev.to_dict(), "wall_s": round(wall(), 1)})
                progress.console.print(f"step {done_steps}: id accuracy {ev.accuracy:.2f}, "
                                       f"specs format {ev.format_compliance:.2f} (n={ev.n})")
            if done_steps % cfg.checkpoint_every == 0 or done_steps == cfg.steps:
                save_state(state_dir, model, optimizer, done_steps,
                           {"recipe": _jsonable(cfg.recipe()), "wall_s": wall()}
                           | ({"perception_head": perception.head.state_dict()} if perception is not None else {}))
            progress.update(task, completed=done_steps)
            if on_step is not None:
                on_step(done_steps)
    if perception is not None:
        perception.close()
    train_wall = wall()

    console.print("final evaluation …")
    t_eval = time.time()
    final = {split: quickeval.evaluate(model, processor, split, cfg.final_eval_items).to_dict()
             for split in world.EVAL_SPLITS}
    diversity = quickeval.sample_diversity(model, processor, "id", cfg.diversity_items)
    passk = quickeval.pass_at_k(model, processor, "id", cfg.diversity_items, k=8)
    from specs_eval.benchmarks.toyworld.baselines import baselines

    blind = baselines(world.EVAL_SPLITS, cfg.final_eval_items, seed=quickeval.EVAL_SEED)
    meta = {
        "kind": KIND,
        "command": cfg.command(),
        "seed": cfg.seed,
        "steps": cfg.steps,
        "resumed_from": start or None,
        "recipe": _jsonable(cfg.recipe()),
        "size": tiny.size_dict(cfg.size) | {"name": cfg.size, "parameters": n_params,
                                             "vocab": len(processor.tokenizer)},
        "train_items": cfg.steps * cfg.batch_size,
        "train_wall_s": round(train_wall, 1),
        "eval_wall_s": round(time.time() - t_eval, 1),
        "threads": cfg.threads,
        "final_eval": {"decoding": "greedy", "item_seed": quickeval.EVAL_SEED,
                       "max_new_tokens": quickeval.MAX_NEW_TOKENS, "splits": final,
                       "sampling_diversity": diversity, "pass_at_k": passk, "image_blind_baselines": blind},
        "versions": _versions(),
        "git": _git_commit(),
    }
    tiny.save(model, processor, out, extra=meta)
    weights = out / "model.safetensors"
    # sha256 of the weights file: the same command (seed, threads, library versions) reproduces
    # it bit for bit, and any change to the recipe or the toy world changes it.
    meta["weights"] = {"file": weights.name, "dtype": str(next(model.parameters()).dtype).split(".")[-1],
                       "bytes": weights.stat().st_size,
                       "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    if not cfg.keep_state:
        shutil.rmtree(state_dir, ignore_errors=True)
    ident = final["id"]
    console.print(f"[green]saved {out}[/]: id accuracy {ident['accuracy']:.3f}, specs format "
                  f"{ident['format_compliance']:.3f}, {meta['weights']['bytes'] / 1e6:.1f} MB, "
                  f"trained in {train_wall / 60:.1f} min")
    return meta


def _progress(console: Any) -> Any:
    from rich.progress import TextColumn

    from specs_eval.core.progress import progress_bar

    return progress_bar(console, TextColumn("{task.fields[info]}"))


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True))


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    import specs_eval

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "specs_eval": specs_eval.__version__}


def _git_commit() -> dict[str, Any] | None:
    """The commit of the code that trained the model (``dirty`` when there were local edits)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "specs_eval", "training"],
                                cwd=here.parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode != 0:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


# ---------------------------------------------------------------- command line

_D = BootstrapConfig(out="")


@click.command("bootstrap")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (HF checkpoint).")
@click.option("--steps", default=_D.steps, show_default=True, type=click.IntRange(min=1), help="Optimizer steps.")
@click.option("--seed", default=_D.seed, show_default=True, type=int, help="Seed of init, data and targets.")
@click.option("--size", default=_D.size, show_default=True, type=click.Choice(sorted(tiny.SIZES)),
              help="Model size (micro is for tests).")
@click.option("--batch-size", default=_D.batch_size, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=_D.lr, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Peak AdamW learning rate.")
@click.option("--warmup", default=_D.warmup, show_default=True, type=click.IntRange(min=1), help="Warm-up steps.")
@click.option("--eval-every", default=_D.eval_every, show_default=True, type=click.IntRange(min=0),
              help="Quick greedy eval on held-out id items every N steps (0: only at the end).")
@click.option("--eval-items", default=_D.eval_items, show_default=True, type=click.IntRange(min=1))
@click.option("--final-eval-items", default=_D.final_eval_items, show_default=True, type=click.IntRange(min=1),
              help="Items per split in the final evaluation recorded in specs_eval.json.")
@click.option("--checkpoint-every", default=_D.checkpoint_every, show_default=True, type=click.IntRange(min=1),
              help="Save the resume state every N steps.")
@click.option("--threads", default=_D.threads, show_default=True, type=click.IntRange(min=1),
              help="torch CPU threads.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue a run found in --out (--no-resume starts over).")
@click.option("--keep-state/--no-keep-state", default=False, show_default=True,
              help="Keep the resume state (model + optimizer) after finishing, so --steps can be raised later.")
def bootstrap(**kwargs: Any) -> None:
    """Train the tiny base VLM from scratch on CPU (offline, deterministic by seed).

    \b
    Examples:
      specs-train bootstrap --out runs/tiny-base --threads 1   # the shipped tiny-base recipe (~35 min)
      specs-train bootstrap --out /tmp/t --size micro --steps 20 --final-eval-items 16
    """
    run_bootstrap(BootstrapConfig(**kwargs))
