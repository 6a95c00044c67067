"""The ``specs-train`` command line: a click group whose commands load lazily.

Why lazy: each command pulls in torch, transformers or trl only when it runs, so
``specs-train --help`` is instant and a broken optional dependency breaks only the command
that needs it. Commands register in ``COMMANDS``; errors the user can fix (``SpecsError``,
bad option values, model-loading problems) end as one red line and exit code 2.
"""

from __future__ import annotations

from typing import Any

import click

from specs_eval import __version__
from specs_eval.core.clikit import LazyGroup, run_cli

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "bootstrap": "training.bootstrap:bootstrap",
    "pipeline": "training.commands:pipeline",
    "stage": "training.commands:stage",
    "config": "training.commands:show_config",
    "export": "training.export:export",
    "study": "training.study:study",
    "vllm-serve": "training.commands:vllm_serve",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="specs-train")
def cli() -> None:
    """Train the tiny base VLM; run the SPECS pipeline (zero-RL → distill → cold start → RL) and its stages.

    \b
    Examples:
      specs-train bootstrap --out runs/tiny-base --threads 1         # the shipped tiny base, bit for bit (~35 min)
      specs-train pipeline --preset tiny --out runs/specs-tiny       # end to end on CPU, ~6 min on 2 cores
      specs-train pipeline --preset tiny --out runs/x --set cold_start.method=sft
      specs-train stage rl --from runs/specs-tiny/03-cold-start/model --out runs/rl-only --preset tiny
      specs-train config --preset qwen2.5-vl-7b                      # the resolved settings
      specs-train export --format verl --preset tiny --out runs/verl-data
      specs-train study gf --out runs/gf-study                       # SFT vs DPO vs DPO+SFT, seeds, RL, pass@k
    """


def main(argv: list[str] | None = None) -> Any:
    return run_cli(cli, "specs-train", "interrupted: run the same command again to resume from the last saved step",
                   argv)


if __name__ == "__main__":
    main()
