"""``program_judge``: run the candidate Python program on the task's test cases.

Re-implements ``program_judge.py`` of the official evaluator (lmms-eval copy, commit
2bb5e98): for each ``{"input": [...lines], "expected": str}`` in
``eval_context["test_case"]``, the program runs with ``input()`` fed the lines and
``sys.stdout`` captured; the test passes when the captured output (right-stripped)
equals the expected output (right-stripped). Score = passed / total. As upstream,
code containing ``if __name__ == "__main__":`` runs as ``__main__``; other code runs
with separate globals and locals (so top-level functions cannot see each other, an
upstream quirk we keep); any exception, ``SystemExit`` or timeout fails the case.

Opt-in and sandbox (upstream forks the evaluator process itself and ``exec``s the code
in it): nothing runs unless ``sandbox.allow_program_execution()`` was called (an explicit
opt-in); otherwise the field is *unavailable*, never scored. Each test case then
runs in ``sandbox.run_python``: a fresh interpreter in a scratch directory, in new
network/PID namespaces where the platform allows, with CPU/memory/file limits, an
audit hook against processes, sockets and files outside the scratch directory, and its
process group killed at the deadline. ``sandbox`` states what is and is not guaranteed.
"""

from __future__ import annotations

from typing import Any

from specs_eval.rules.megabench.metrics import sandbox
from specs_eval.rules.megabench.metrics.base import MetricUnavailable

TIME_LIMIT_S = 2.0


def run_program(code: str, input_lines: list[str], time_limit_s: float = TIME_LIMIT_S) -> str:
    """The program's right-stripped output, or an ``ERROR…`` string (runs in the sandbox)."""
    return sandbox.run_python(code, input_lines, time_limit_s)


def program_judge(response: Any, eval_context: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """Share of test cases passed, and per-case results; unavailable unless execution was allowed."""
    if not sandbox.allowed():
        raise MetricUnavailable(
            "unavailable: program_judge runs the response as a Python program; it is off unless enabled "
            "(specs_eval.rules.megabench.metrics.sandbox.allow_program_execution)"
        )
    cases = eval_context["test_case"]
    if isinstance(cases, dict):
        cases = [cases]
    if not cases:
        return 0.0, []
    if not isinstance(response, str):  # upstream's child process dies before running anything
        return 0.0, [{"result": "Failed", "output": f"ERROR: no program ({type(response).__name__})"}]
    code = response
    passed, results = 0, []
    for case in cases:
        input_str = "\n".join(case["input"]) + "\n"
        output = run_program(code, input_str.splitlines())
        ok = output == str(case["expected"]).rstrip()
        passed += ok
        results.append({"input": case["input"], "expected": case["expected"], "output": output[:2000],
                        "result": "Passed" if ok else "Failed"})
    return passed / len(cases), results
