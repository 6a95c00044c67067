"""The ``specs-eval`` command line: a click group whose commands load lazily.

Why lazy: ``specs-eval score`` and ``specs-eval report`` must start fast and work
without torch; only ``run`` imports a model backend. Each command lives in its own
module; known user errors end as one red line and exit code 2, never a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from specs_eval import __version__
from specs_eval.core.clikit import LazyGroup, run_cli

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "run": "specs_eval.cli.run:run",
    "ls": "specs_eval.cli.ls:ls",
    "merge": "specs_eval.cli.merge:merge",
    "toyworld": "specs_eval.cli.toyworld:toyworld",
    "score": "specs_eval.cli.score:score",
    "import": "specs_eval.cli.importer:import_",
    "report": "specs_eval.cli.report:report",
    "serve": "specs_eval.cli.serve:serve",
    "export-lmms-eval": "specs_eval.cli.lmms:export_lmms_eval",
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="specs-eval")
def cli() -> None:
    """Evaluate VLMs on ID/OOD splits, score saved outputs, and compare runs.

    \b
    Examples:
      specs-eval run                       # shipped tiny model on the toy world (offline, CPU)
      specs-eval run --model Qwen/Qwen2.5-VL-7B-Instruct --benchmark mathvista --device cuda
      specs-eval ls                        # benchmarks, splits, profiles, shipped models
    """


def main(argv: list[str] | None = None) -> Any:
    return run_cli(cli, "specs-eval", "interrupted: finished samples are kept; run the same command again to resume",
                   argv)
