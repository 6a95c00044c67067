"""``symbolic_planning_test``: does a PDDL plan reach the goal from the initial state?

Re-implements ``symbolic_planning.py`` of the official evaluator (lmms-eval copy,
commit aff0acd). ``eval_context`` carries ``domain_pddl`` and ``task_pddl``. The
response is a plan, one ``(action obj …)`` per line (or a list of such strings);
lines not starting with ``(`` are ignored. Each action's preconditions must hold in
the current state (conditions are literal strings after parameter substitution, as
upstream), its effects are applied, and every goal condition must hold at the end:
score 1, else 0. Malformed plans score 0.
"""

from __future__ import annotations

import re
from typing import Any

_PARAM_LIST = re.compile(r"((?:\?\S+\s*)+)(?:-\s+([^\?$]+)\s*)?")
_PARAM_NAME = re.compile(r"\?([^\s\?\)]+)\s*")


def parse_param_list(s: str) -> tuple[str, dict[str, Any]]:
    s = s.strip()
    if not (s.startswith("(") and s.endswith(")")):
        raise ValueError(f"not a parameter list: {s!r}")
    s = s[1:-1]
    types: dict[str, Any] = {}
    for params, p_type in _PARAM_LIST.findall(s):
        for p in _PARAM_NAME.findall(params):
            p_type = p_type.strip()
            if p_type.startswith("("):
                types[p] = re.split(r"\s+", p_type[1:-1].strip())[1:]
            else:
                types[p] = p_type
    return s.split("?")[0].strip(), types


def parse_outer_inner(s: str, ender: str, inner_start: str, inner_end: str) -> tuple[str, list[str], int]:
    depth, start, inner = 0, 0, []
    for i, c in enumerate(s):
        if depth == 0 and c == ender:
            return s[: i + 1], inner, i + 1
        if c == inner_start:
            if depth == 0:
                start = i
            depth += 1
        elif c == inner_end:
            depth -= 1
            if depth == 0:
                inner.append(s[start : i + 1])
    return s, inner, len(s)


def parse_attr(s: str, starter: str = "(:", ender: str = ")", inner_start: str = "(",
               inner_end: str = ")") -> tuple[Any, Any]:
    """Upstream ``parse_pddl_attr_from_string`` (one match: (outer, inner list); several: (list, dict))."""
    pieces = s.split(starter)
    if len(pieces) == 1:
        return "", []
    if len(pieces) == 2:
        outer, inner, _ = parse_outer_inner(pieces[1], ender, inner_start, inner_end)
        return starter + outer, inner
    matched: dict[str, list[str]] = {}
    outers: list[str] = []
    while len(s.split(starter)) > 1:
        s = s.split(starter, 1)[1]
        name = re.split(r"\s+", s.strip())[0]
        outer, inner, end = parse_outer_inner(s, ender, inner_start, inner_end)
        outers.append(starter + outer)
        matched[name] = inner
        s = s[end:]
    return outers, matched


def remove_type_in_cnf(s: str) -> str:
    parts = s.split(" - ")
    if len(parts) == 1:
        return s
    for i in range(1, len(parts)):
        if len(parts[i].strip().split(")")[0].split()) == 1:
            parts[i] = ")" + parts[i].strip().split(")", 1)[1]
        else:
            parts[i] = " " + parts[i].strip().split(" ", 1)[1]
    return "".join(parts).strip()


def split_cnf(s: str) -> set[str]:
    if not s.startswith("(and"):
        raise ValueError("conjunction expected")
    clauses: set[str] = set()
    depth, start = 0, 0
    for i, c in enumerate(s):
        if c == "(":
            depth += 1
            if depth == 2:
                start = i
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
            if depth == 1:
                clauses.add(remove_type_in_cnf(s[start : i + 1]))
    return clauses


class Domain:
    """Actions of a PDDL domain: parameter names and pre/post condition literals."""

    def __init__(self, domain_pddl: str) -> None:
        self.pddl = domain_pddl
        outers, actions = parse_attr(domain_pddl, starter="(:action")
        if not isinstance(actions, dict):  # upstream fails on single-action domains too
            raise ValueError("domain must define at least two actions")
        del outers
        self.action_names: list[str] = []
        self.param_names: list[list[str]] = []
        for name, attrs in actions.items():
            if len(attrs) != 3:
                raise ValueError(f"action {name!r}: expected parameters, precondition, effect")
            self.action_names.append(name)
            self.param_names.append(list(parse_param_list(attrs[0])[1]))
        self.conditions: dict[str, list[str]] = {}
        for a in self.action_names:
            body = domain_pddl.split(f"(:action {a}")[1]
            for key, tag in (("pre", ":precondition"), ("post", ":effect")):
                cond = body.split(tag)[1].strip()
                conds = split_cnf(cond) if cond.startswith("(and") else {cond.split(")")[0].strip() + ")"}
                self.conditions[f"{a}_{key}"] = sorted(conds, key=lambda x: 0 if x.startswith("(not ") else 1)


def _bind(action: str, domain: Domain) -> tuple[dict[str, str], str]:
    action = action[1:-1]
    name = action.split(" ")[0].strip()
    objs = action.split(" ")[1:]
    idx = domain.action_names.index(name)
    params = domain.param_names[idx]
    if len(objs) != len(params):
        raise ValueError(f"{name}: {len(objs)} arguments for {len(params)} parameters")
    return dict(zip(params, objs, strict=True)), name


def _substitute(cond: str, binding: dict[str, str]) -> str:
    for param, obj in binding.items():
        cond = re.sub(rf"\?{re.escape(param)}(?=[^\w-])", lambda _m, o=obj: o, cond)
    return cond


def _holds(state: list[str], cond: str) -> bool:
    return (cond in state) != cond.startswith("(not ")


def symbolic_planning_test(response: Any, eval_context: dict[str, Any]) -> int:
    domain = Domain(eval_context["domain_pddl"])
    if isinstance(response, str):
        candidates = response.split("\n")
    elif isinstance(response, list | tuple):
        candidates = list(response)
    else:
        raise ValueError(f"unsupported plan type {type(response).__name__}")
    plan = [c.strip() for c in candidates if isinstance(c, str) and c.startswith("(")]
    try:
        task = eval_context["task_pddl"]
        state = list(parse_attr(task, starter="(:init")[1])
        goal = parse_attr(task, starter="(and")[1]
    except IndexError:
        return 0
    try:
        for step in plan:
            binding, name = _bind(step, domain)
            if not all(_holds(state, _substitute(c, binding)) for c in domain.conditions[f"{name}_pre"]):
                return 0
            for effect in domain.conditions[f"{name}_post"]:
                effect = _substitute(effect, binding)
                _, negated = parse_attr(effect, starter="(not ")
                if negated:
                    if len(negated) != 1:
                        raise ValueError("malformed negated effect")
                    if negated[0] in state:
                        state.remove(negated[0])
                elif effect.strip() not in state:
                    state.append(effect)
        return 1 if all(_holds(state, g) for g in goal) else 0
    except (ValueError, AssertionError):
        return 0
