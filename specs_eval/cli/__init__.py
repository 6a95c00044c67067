"""The ``specs-eval`` command line: a click group whose commands load lazily.

Why lazy: ``specs-eval score`` and ``specs-eval report`` must start fast and work
without torch; only ``run`` imports a model backend. Each command lives in its own
module; known user errors end as one red line and exit code 2, never a traceback.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from specs_eval import __version__

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


class LazyGroup(click.Group):
    """A group whose commands are imported only when invoked (``lazy_commands``: name → "module:attr").

    Shared by ``specs-eval`` and ``specs-train``.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


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


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that are the user's to fix: reported in one line."""
    from specs_eval.benchmarks.base import BenchmarkError
    from specs_eval.errors import SpecsError

    errors: list[type[BaseException]] = [BenchmarkError, SpecsError]
    try:
        from specs_eval.models.loading import ModelLoadError

        errors.append(ModelLoadError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def run_cli(group: click.Group, prog_name: str, interrupted: str, argv: list[str] | None = None) -> Any:
    """Run a click group with one-line errors: usage mistakes, user-fixable errors and a full disk exit 2,
    Ctrl-C exits 130 with ``interrupted`` (how to resume); anything else is a bug and keeps its traceback."""
    try:
        return group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort as e:
        if isinstance(e.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.secho(interrupted, fg="yellow", err=True)
        else:
            click.secho("aborted", fg="red", err=True)
        sys.exit(130)
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.secho(f"error: {e.format_message()}{hint}", fg="red", err=True)
        sys.exit(2)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.secho(interrupted, fg="yellow", err=True)
        sys.exit(130)
    except user_errors() as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            click.secho(f"error: disk full while writing {e.filename or 'output'}; free space and run again to resume",
                        fg="red", err=True)
            sys.exit(2)
        raise


def main(argv: list[str] | None = None) -> Any:
    return run_cli(cli, "specs-eval", "interrupted: finished samples are kept; run the same command again to resume",
                   argv)
