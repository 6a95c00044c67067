"""Click options shared by several commands (one definition, so the flags cannot drift)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from specs_eval.backends.base import BACKENDS, backend_class
from specs_eval.core.errors import SpecsError


def judge_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--judge-url/--judge-model/--judge-key-env/--judge-cache/--judge-timeout``."""
    for opt in reversed([
        click.option("--judge-url", default=None, help="OpenAI-compatible base URL of the judge (judge profiles, "
                                                       "MEGA-Bench open set)."),
        click.option("--judge-model", default=None, help="Judge model name, e.g. gpt-4o-2024-08-06 (recorded)."),
        click.option("--judge-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable holding the judge's API key."),
        click.option("--judge-cache", default=None, help="Judge cache folder (default ~/.cache/specs-eval/judge)."),
        click.option("--judge-timeout", default=60.0, show_default=True, help="Seconds per judge request."),
    ]):
        f = opt(f)
    return f


def _allow_programs(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value:
        return
    import warnings

    from specs_eval.rules.megabench.metrics import sandbox

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sandbox.allow_program_execution()
    for w in caught:
        click.secho(f"warning: {w.message}", fg="yellow", err=True)


def program_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--allow-program-execution``: MEGA-Bench ``program_judge`` runs responses as programs only when given."""
    return click.option("--allow-program-execution", is_flag=True, expose_value=False, callback=_allow_programs,
                        help="MEGA-Bench program_judge: run model-written programs in a sandbox (off: those "
                             "fields are 'unavailable', never scored). See docs/megabench.md.")(f)


def backend_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Every backend's own options (``Backend.options``), each flag once, in backend order."""
    seen: dict[str, Any] = {}
    for kind in BACKENDS:
        for o in backend_class(kind).options:
            if seen.setdefault(o.flag, o) != o:
                raise RuntimeError(f"backends declare {o.flag} differently")  # a programming error
    for o in reversed(list(seen.values())):
        kw: dict[str, Any] = {"help": o.help, "envvar": o.envvar}
        if o.is_flag:
            kw["is_flag"] = True
        else:
            kw.update(type=o.type, default=o.default, show_default=o.default is not None)
        f = click.option(o.flag, o.param, **kw)(f)
    return f


def make_judge(judge_url: str | None, judge_model: str | None, judge_key_env: str, judge_cache: str | None,
               judge_timeout: float) -> Any:
    from specs_eval.run.judges import judge_from_options

    return judge_from_options(judge_url, judge_model, judge_key_env, judge_cache, judge_timeout)


def fail_if_judge_stopped(judge: Any, where: Path | str) -> None:
    """A judge whose circuit breaker opened fails the command (exit 2), after its outputs were written."""
    from specs_eval.run.judges import judge_failure

    reason = judge_failure(judge)
    if reason:
        raise SpecsError(f"{reason}; the samples it could not judge are errors in {where}. Fix the judge and run the "
                         "same command again")
