"""Command-line plumbing shared by ``specs-eval`` and ``specs-train``: lazy command groups and
one-line errors.

Why in core: both command lines (the harness's and training's) use it, and training sits
below the harness CLI in the layer order, so the shared part lives below both.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from specs_eval.core.errors import SpecsError


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
    except SpecsError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        sys.exit(2)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            click.secho(f"error: disk full while writing {e.filename or 'output'}; free space and run again to resume",
                        fg="red", err=True)
            sys.exit(2)
        raise
