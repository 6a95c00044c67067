"""Row schemas per benchmark (pydantic), checked on every row at load.

Why: rows stay in each benchmark's own schema (docs/design.md), so nothing else stops a
malformed row from reaching a scorer: before these schemas ``metadata: null`` and a 1 MB
``query`` crashed, and a MathVista row without ``pid`` became id ``""``, ``choices: "ABCD"``
became four choices and ``precision: "abc"`` was accepted (issue 15). A row that fails is a
one-line error naming the file, the row and the field (or, with ``--skip-bad-rows``, a
counted skip with that reason).

Two levels per benchmark: ``score`` holds the fields the benchmark's scorer reads (what
``specs-eval score`` requires: MMMU needs ``id``, ``question_type``, ``answer`` and, to parse
free-text multiple-choice responses, ``options``), ``run`` adds what building the official
prompt needs. The models validate; rows are kept as they are (ids are turned into strings).
Gold answers are checked for what would otherwise be a silently wrong gold: a
multiple-choice answer that is not among the choices (MathVista) or not a letter of an
option (MMMU), an integer/float answer that is not a number, an answer that is missing where
the split has answers.

The length cap (:data:`MAX_TEXT`) is far above every real row (MathVista's longest
``query`` is 1,295 characters, testmini) and keeps a hostile row from feeding megabytes to
quadratic parsers; MEGA-Bench, whose task descriptions embed documents, gets
:data:`MAX_TEXT_LONG`.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

MAX_TEXT = 65_536
MAX_TEXT_LONG = 1_048_576
MAX_ID = 512


def _id(value: Any) -> Any:
    """Ids may be stored as numbers (MathVerse ``sample_index`` in JSON, MEGA-Bench ``id``); never empty."""
    if isinstance(value, bool):
        raise ValueError("an id must be a string or an integer")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and not value.strip():
        raise ValueError("empty id")
    return value


Id = Annotated[str, BeforeValidator(_id), StringConstraints(max_length=MAX_ID)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
LongText = Annotated[str, StringConstraints(max_length=MAX_TEXT_LONG)]


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    @staticmethod
    def answers_required(info: ValidationInfo) -> bool:
        return bool((info.context or {}).get("answers_required", True))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _need_answer(value: Any, info: ValidationInfo) -> None:
    if _blank(value) and _Row.answers_required(info):
        raise ValueError("answer: missing or empty (this split is scored against it)")


# ---------------------------------------------------------------------------------------------- MathVista


class MathVistaMeta(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
    split: str | None = None
    skills: list[str] | None = None


class MathVistaScore(_Row):
    pid: Id
    question_type: Literal["multi_choice", "free_form"]
    answer_type: Literal["text", "integer", "float", "list"]
    answer: Text | None = None
    choices: list[Text] | None = None
    precision: float | None = None
    unit: Text | None = None
    question: Text | None = None
    query: Text | None = None
    metadata: MathVistaMeta | None = None

    @field_validator("precision")
    @classmethod
    def _precision(cls, v: float | None) -> float | None:
        if v is not None and (not math.isfinite(v) or not 0 <= v <= 15 or v != int(v)):
            raise ValueError(f"precision must be a whole number of decimals in 0..15, got {v!r}")
        return v

    @model_validator(mode="after")
    def _gold(self, info: ValidationInfo) -> MathVistaScore:
        _need_answer(self.answer, info)
        if self.question_type == "multi_choice":
            if not self.choices:
                raise ValueError("choices: a multi_choice row needs a non-empty list of choices")
            if not _blank(self.answer) and self.answer not in self.choices:
                raise ValueError(f"answer: {self.answer!r} is not one of the choices {self.choices!r}")
        elif not _blank(self.answer):
            text = str(self.answer).strip()
            if self.answer_type == "integer" and not re.fullmatch(r"[-+]?\d+", text):
                raise ValueError(f"answer: {text[:40]!r} is not an integer (answer_type integer)")
            if self.answer_type == "float":
                try:
                    float(text)
                except ValueError:
                    raise ValueError(f"answer: {text[:40]!r} is not a number (answer_type float)") from None
        return self


class MathVistaRun(MathVistaScore):
    query: Text


# ---------------------------------------------------------------------------------------------- MMMU

MMMU_ID = re.compile(r"^(?P<split>[a-z]+)_(?P<subject>[A-Za-z_]+)_(?P<n>\d+)$")


def mmmu_options(value: Any) -> list[str] | None:
    """``options`` as a list: the string form of a Python list (hub) or a list; ``None`` when it is neither."""
    if isinstance(value, list | tuple):
        return [str(o) for o in value]
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    try:
        parsed = ast.literal_eval(value.strip() or "[]")
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return [str(o) for o in parsed] if isinstance(parsed, list | tuple) else None


class MMMUScore(_Row):
    id: Id
    question_type: Literal["multiple-choice", "open", "short-answer"]
    answer: Text | list[Text] | None = None
    options: Text | list[Text] | None = None

    @field_validator("id")
    @classmethod
    def _id_form(cls, v: str) -> str:
        from specs_eval.rules.mmmu import SUBJECTS

        m = MMMU_ID.match(v)
        if m is None:
            raise ValueError(f"id {v[:60]!r} is not of the form <split>_<Subject>_<n>")
        if m["subject"] not in SUBJECTS:
            raise ValueError(f"id {v[:60]!r}: {m['subject']!r} is not one of MMMU's 30 subjects")
        return v

    @model_validator(mode="after")
    def _gold(self, info: ValidationInfo) -> MMMUScore:
        answer = self.answer
        if isinstance(answer, list) and not answer:
            answer = None
        _need_answer(answer, info)
        options = None
        if self.options is not None:
            options = mmmu_options(self.options)
            if options is None:
                raise ValueError(f"options: {str(self.options)[:60]!r} is not a list (nor the string form of one)")
        if self.question_type == "multiple-choice" and not _blank(answer):
            golds = answer if isinstance(answer, list) else [answer]
            for g in golds:
                g = str(g).strip()
                n = len(options) if options else 26
                if not (len(g) == 1 and "A" <= g <= chr(64 + min(n, 26))):
                    shown = f"one of A..{chr(64 + n)}" if options else "an option letter"
                    raise ValueError(f"answer: {g[:40]!r} is not {shown} (multiple-choice)")
        return self


class MMMURun(MMMUScore):
    question: Text
    options: Text | list[Text]

    @model_validator(mode="after")
    def _images(self) -> MMMURun:
        text = f"{self.question} {self.options}"
        extra = self.__pydantic_extra__ or {}
        for n in sorted({int(k) for k in re.findall(r"<image (\d+)>", text)}):
            if 1 <= n <= 7 and extra.get(f"image_{n}") is None:
                raise ValueError(f"image_{n}: the question or options refer to <image {n}> but image_{n} is empty")
        return self


# ---------------------------------------------------------------------------------------------- MathVision


class MathVisionScore(_Row):
    id: Id
    answer: Text | None = None
    options: list[Text] | None = None
    level: int | None = None
    subject: Text | None = None

    @model_validator(mode="after")
    def _gold(self, info: ValidationInfo) -> MathVisionScore:
        _need_answer(self.answer, info)
        a = str(self.answer or "").strip()
        if self.options and len(a) == 1 and a.isupper() and ord(a) - 65 >= len(self.options):
            raise ValueError(f"answer: {a!r} is beyond the {len(self.options)} options")
        return self


class MathVisionRun(MathVisionScore):
    question: Text


# ---------------------------------------------------------------------------------------------- MathVerse


class MathVerseScore(_Row):
    sample_index: Id
    answer: Text | None = None
    question_type: Literal["multi-choice", "free-form"]
    problem_version: Text | None = None
    question_for_eval: Text | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _gold(self, info: ValidationInfo) -> MathVerseScore:
        _need_answer(self.answer, info)
        return self


class MathVerseRun(MathVerseScore):
    question: Text
    problem_version: Text
    query_cot: Text | None = None
    query_wo: Text | None = None


# ---------------------------------------------------------------------------------------------- MEGA-Bench


def _literal(value: Any, what: str) -> Any:
    if isinstance(value, dict | list):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as e:
        raise ValueError(f"{what}: not a Python literal ({type(e).__name__})") from None


class MegaBenchScore(_Row):
    id: Id
    task_name: Text
    answer: LongText | dict[str, Any]
    metric_info: LongText | dict[str, Any]
    eval_context: LongText | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _gold(self) -> MegaBenchScore:
        gold = _literal(self.answer, "answer")
        if not isinstance(gold, dict) or not gold:
            raise ValueError("answer: expected the string form of a non-empty dict of answer fields")
        if not isinstance(_literal(self.metric_info, "metric_info"), dict):
            raise ValueError("metric_info: expected the string form of a dict")
        return self


class MegaBenchRun(MegaBenchScore):
    task_description: LongText
    example_text: LongText
    query_text: LongText
    global_media: LongText | list[Text]
    example_media: LongText | list[Text]
    query_media: LongText | list[Text]

    @model_validator(mode="after")
    def _media(self) -> MegaBenchRun:
        for name in ("global_media", "example_media", "query_media"):
            value = getattr(self, name)
            if isinstance(value, str) and value.strip():
                parsed = _literal(value, name)
                if not isinstance(parsed, list | tuple):
                    raise ValueError(f"{name}: expected the string form of a list of paths")
        return self


# ---------------------------------------------------------------------------------------------- toy world


class ToyMeta(BaseModel):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)
    split: str | None = None


class ToyScore(_Row):
    pid: Id
    answer: Text
    answer_type: Literal["text", "integer", "float", "list"]
    choices: list[Text] | None = None
    precision: float | None = None
    metadata: ToyMeta | None = None


class ToyRun(ToyScore):
    query: Text
    question_type: Literal["multi_choice", "free_form"]


# ---------------------------------------------------------------------------------------------- validation


SCHEMAS: dict[str, dict[str, type[BaseModel]]] = {
    "mathvista": {"score": MathVistaScore, "run": MathVistaRun},
    "mmmu": {"score": MMMUScore, "run": MMMURun},
    "mathvision": {"score": MathVisionScore, "run": MathVisionRun},
    "mathverse": {"score": MathVerseScore, "run": MathVerseRun},
    "megabench": {"score": MegaBenchScore, "run": MegaBenchRun},
    "toyworld": {"score": ToyScore, "run": ToyRun},
}


def first_error(e: ValidationError) -> str:
    """``field: message`` of a validation error's first problem, on one line (all missing fields at once)."""
    errors = e.errors(include_url=False, include_input=False)
    missing = [".".join(str(x) for x in err.get("loc", ())) for err in errors if err.get("type") == "missing"]
    if missing:
        return f"lacks field(s) {', '.join(missing)}"
    err = errors[0]
    loc = ".".join(str(x) for x in err.get("loc", ()))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "string_too_long":
        limit = (err.get("ctx") or {}).get("max_length")
        msg = f"longer than {limit:,} characters" if limit else msg
    if not loc:
        return msg
    return msg if msg.startswith(f"{loc}:") else f"{loc}: {msg}"


def check_row(model: type[BaseModel], row: dict[str, Any], answers_required: bool = True) -> str | None:
    """``None`` when ``row`` fits ``model``, else one line naming the field and the problem."""
    try:
        model.model_validate(row, context={"answers_required": answers_required})
    except ValidationError as e:
        return first_error(e)
    return None
