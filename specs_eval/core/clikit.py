"""Command-line plumbing shared by ``specs-eval`` and ``specs-train``: lazy command groups,
one-line errors, ``--verbose/--quiet`` on standard ``logging``, and ``--config FILE``.

Why in core: both command lines (the harness's and training's) use it, and training sits
below the harness CLI in the layer order, so the shared part lives below both.

Logging: modules log through ``logging.getLogger(__name__)``; nothing is configured on import.
The CLIs attach one stderr handler: warnings by default, ``-v`` info, ``-vv`` debug (and
third-party libraries' debug), ``-q`` errors only. Every command gets ``-v``/``-q`` (and the
groups too: ``specs-eval -v run`` and ``specs-eval run -v`` are the same).
"""

from __future__ import annotations

import errno
import importlib
import logging
import sys
from pathlib import Path
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
        add_verbosity_options(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return add_verbosity_options(getattr(importlib.import_module(module), attr))


# ----- logging -----

OUR_LOGGERS = ("specs_eval", "training", "analysis")
_HANDLER_NAME = "specs-cli"


def configure_logging(verbosity: int = 0) -> None:
    """One stderr handler for our loggers: -1 errors only, 0 warnings, 1 info, 2+ debug (libraries too)."""
    level = logging.ERROR if verbosity < 0 else logging.WARNING if verbosity == 0 else \
        logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    handler.setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING if verbosity >= 0 else logging.ERROR)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(level)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if not value or ctx.resilient_parsing:
        return value
    root = ctx.find_root()
    current = root.meta.get("specs.verbosity", 0)
    current = current + int(value) if param.name == "verbose" else -1
    root.meta["specs.verbosity"] = current
    configure_logging(current)
    return value


def add_verbosity_options(cmd: click.Command) -> click.Command:
    """Give ``cmd`` ``-v/--verbose`` (repeatable) and ``-q/--quiet`` unless it declares them itself."""
    taken = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    names = {p.name for p in cmd.params}
    if "--verbose" not in taken and "-v" not in taken and "verbose" not in names:
        cmd.params.append(click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_set_verbosity,
                                       help="More log lines: -v info, -vv debug (libraries included)."))
    if "--quiet" not in taken and "-q" not in taken and "quiet" not in names:
        cmd.params.append(click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_verbosity,
                                       help="Errors only."))
    return cmd


# ----- --config FILE -----


def _option_aliases(cmd: click.Command) -> dict[str, click.Option]:
    out: dict[str, click.Option] = {}
    for p in cmd.params:
        if not isinstance(p, click.Option) or p.name is None or p.name == "config":
            continue
        out[p.name] = p
        for opt in p.opts + p.secondary_opts:
            if opt.startswith("--"):
                out[opt[2:]] = p
                out[opt[2:].replace("-", "_")] = p
    return out


def load_config_defaults(cmd: click.Command, path: Path) -> dict[str, Any]:
    """The ``default_map`` for ``cmd`` from a YAML file of its long option names (``batch-size`` or
    ``batch_size``); repeatable options take a list or one value. Unknown keys are an error."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise click.BadParameter(f"cannot read {path}: {str(e).splitlines()[0]}", param_hint="--config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: expected a mapping of option names to values", param_hint="--config")
    aliases = _option_aliases(cmd)
    defaults: dict[str, Any] = {}
    for key, value in data.items():
        opt = aliases.get(str(key))
        if opt is None:
            known = sorted({o[2:] for p in aliases.values() for o in p.opts if o.startswith("--")})
            raise click.BadParameter(f"{path}: unknown option {key!r}; known: {', '.join(known)}",
                                     param_hint="--config")
        assert opt.name is not None
        if opt.name in defaults:
            raise click.BadParameter(f"{path}: option {key!r} given twice", param_hint="--config")
        if opt.multiple and not isinstance(value, list):
            value = [value]
        if not opt.multiple and isinstance(value, list | dict):
            raise click.BadParameter(f"{path}: option {key!r} takes one value, not {type(value).__name__}",
                                     param_hint="--config")
        defaults[opt.name] = value
    return defaults


def _apply_config(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is None or ctx.resilient_parsing:
        return value
    path = Path(value)
    ctx.default_map = {**(ctx.default_map or {}), **load_config_defaults(ctx.command, path)}
    ctx.meta["specs.config_file"] = str(path)
    return value


def config_option(f: Any) -> Any:
    """``--config FILE``: YAML of the command's own options; flags given on the command line win."""
    return click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), is_eager=True,
                        expose_value=False, callback=_apply_config,
                        help="YAML file of this command's options (e.g. `batch-size: 8`, `split: [id, ood_task]`); "
                             "flags given on the command line override it.")(f)


def run_cli(group: click.Group, prog_name: str, interrupted: str, argv: list[str] | None = None) -> Any:
    """Run a click group with one-line errors: usage mistakes, user-fixable errors and a full disk exit 2,
    Ctrl-C exits 130 with ``interrupted`` (how to resume); anything else is a bug and keeps its traceback."""
    configure_logging(0)
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
