"""The open-ended set: ``gpt_4o_as_judge`` and ``ascii_art_gpt4o_judge`` through a ``Judge``.

Re-implements ``gpt_4o_as_judge.py`` / ``vlm_as_judge.py`` and
``ascii_art_gpt4o_judge.py`` of the official evaluator (lmms-eval copy, commit
161c7a1; the official default judge is ``gpt-4o-2024-08-06`` at temperature 0):

* the task's ``gpt4o_eval_configs`` give ``eval_criteria_prompt``,
  ``judge_model_type`` (``"with image"`` sends the query images first),
  ``template_mapping`` (prompt slot → ``model_output``, ``example_question``,
  ``answers.<field>`` or ``eval_context.<key>``);
* the judge's reply is parsed for ``**Score**: N`` (0–10) and divided by 10; a reply
  without a score gives 0, as upstream;
* ASCII art: both texts are rendered to 224×224 images in a monospace font and the
  judge is asked whether they depict the same object; "yes" in the reply scores 1.

The judge is any object with the ``specs_eval.core.judge.Judge`` protocol, configured by
the caller (model, endpoint, cache live in the client). Verdicts are also cached
here in memory by request hash. Without a judge, or when a call fails, the field is
*unavailable* and the query is reported as not scored, never as 0.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

from specs_eval.core.judge import Judge
from specs_eval.rules.megabench.metrics.base import MetricUnavailable

DEFAULT_JUDGE_MODEL = "gpt-4o-2024-08-06"
MAX_SIDE = 1000
_SCORE = re.compile(r"\*\*Score\*\*\s*:\s*(\d+)")
_EXPLANATION = re.compile(r"\*\*Score explanation\*\*\s*:\s*(.*)", re.DOTALL)
ASCII_PROMPT = ('Determine if the following two ASCII art images depict the same object. Your answer should be '
                'either "yes" or "no", but without the quotation marks.')
MONOSPACE_FONTS = ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf", "Courier New.ttf", "cour.ttf",
                   "Consolas.ttf", "SFMono-Regular.otf")


def parse_judge_score(text: str) -> tuple[float, str]:
    """``(score / 10, info)``; ``(0, "Score is NULL: …")`` when no score is present."""
    match = _SCORE.search(text or "")
    explanation = _EXPLANATION.search(text or "")
    if match is None:
        return 0.0, f"Score is NULL: {text};"
    score = int(match.group(1))
    return score / 10.0, f"Score: {score}; Explanation: {explanation.group(1).strip() if explanation else ''}"


def image_part(img: Any) -> dict[str, Any]:
    """An OpenAI ``image_url`` part (JPEG data URL, longest side ≤ 1000 px as upstream)."""
    from PIL import Image

    if img.mode == "RGBA":
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    img = img.convert("RGB")
    if max(img.size) > MAX_SIDE:
        scale = MAX_SIDE / max(img.size)
        img = img.resize((int(img.size[0] * scale), int(img.size[1] * scale)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return {"type": "image_url",
            "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()}}


def build_judge_prompt(config: dict[str, Any], response: Any, reference: dict[str, Any], images: list[Any],
                       question: str, eval_context: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The user content upstream's ``prepare_eval_prompt`` builds."""
    content: list[dict[str, Any]] = []
    if config.get("judge_model_type") == "with image":
        content.extend(image_part(img) for img in images)
    mapping: dict[str, Any] = {}
    for key, val in (config.get("template_mapping") or {}).items():
        if val == "model_output":
            mapping[key] = response
        elif val == "example_question":
            mapping[key] = question
        elif str(val).split(".")[0] == "answers":
            mapping[key] = reference[str(val).split(".")[1]]
        elif str(val).split(".")[0] == "eval_context":
            mapping[key] = (eval_context or {})[str(val).split(".")[1]]
    content.append({"type": "text", "text": str(config["eval_criteria_prompt"]).format(**mapping)})
    return content


def _find_monospace_font() -> str | None:
    roots = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts",
             Path("/Library/Fonts"), Path("C:/Windows/Fonts")]
    for root in roots:
        if not root.is_dir():
            continue
        for name in MONOSPACE_FONTS:
            found = next(iter(root.rglob(name)), None)
            if found is not None:
                return str(found)
    return None


def ascii_to_image(text: str, size: int = 224, font_size: int = 20, padding: int = 10) -> Any:
    """Upstream ``ascii_text_to_image``: render lines in a monospace font, resize to a square."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = _find_monospace_font()
    if font_path is None:
        raise MetricUnavailable("unavailable: ascii_art_gpt4o_judge needs a monospace TTF font "
                                "(e.g. apt-get install fonts-dejavu-core)")
    lines = text.splitlines() or [""]
    width = int(max(len(line) for line in lines) * font_size * 0.6 + 2 * padding)
    height = int(len(lines) * font_size + 2 * padding)
    img = Image.new("RGB", (max(width, 1), max(height, 1)), color="white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path, font_size)
    y = padding
    for line in lines:
        draw.text((padding, y), line, font=font, fill="black")
        y += font_size
    return img.resize((size, size), Image.Resampling.LANCZOS)


class OpenSetJudge:
    """Scores judge-metric fields with a ``Judge``; ``judge=None`` makes them unavailable."""

    def __init__(self, judge: Judge | None = None, max_tokens: int = 1024) -> None:
        self.judge = judge
        self.max_tokens = max_tokens
        self._cache: dict[str, str] = {}

    @property
    def judge_id(self) -> str | None:
        return getattr(self.judge, "judge_id", None) if self.judge is not None else None

    def _ask(self, content: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        if self.judge is None:
            raise MetricUnavailable("not scored: no judge configured for the open-ended set "
                                    f"(official judge: {DEFAULT_JUDGE_MODEL})")
        messages = [{"role": "user", "content": content}]
        key = hashlib.sha256((str(self.judge_id) + json.dumps(messages, sort_keys=True)).encode()).hexdigest()
        if key in self._cache:
            return self._cache[key], {"request_hash": key, "cached": True, "judge_id": self.judge_id}
        verdict = self.judge.complete(messages, max_tokens=self.max_tokens)
        if not verdict.ok:
            raise MetricUnavailable(f"not scored: judge call failed ({verdict.error or 'no reply'})")
        raw = verdict.raw or ""
        self._cache[key] = raw
        return raw, {"request_hash": verdict.request_hash or key, "cached": verdict.cached,
                     "judge_id": verdict.judge_id}

    def score(self, metric: str, response: Any, reference: dict[str, Any], images: list[Any], question: str,
              eval_context: dict[str, Any] | None, metric_info: dict[str, Any],
              correct_value: Any = None) -> tuple[float, dict[str, Any]]:
        """``(score, info)`` for one judged field."""
        if metric == "ascii_art_gpt4o_judge":
            if not isinstance(response, str) or not isinstance(correct_value, str) or not response:
                return 0.0, {"note": "empty or non-text ASCII art"}
            content = [image_part(ascii_to_image(response)), image_part(ascii_to_image(correct_value)),
                       {"type": "text", "text": ASCII_PROMPT}]
            raw, meta = self._ask(content)
            return (1.0 if "yes" in raw.lower() else 0.0), {"judge_reply": raw, **meta}
        config = metric_info.get("gpt4o_eval_configs")
        if not isinstance(config, dict) or "eval_criteria_prompt" not in config:
            raise ValueError("gpt_4o_as_judge needs gpt4o_eval_configs with an eval_criteria_prompt")
        content = build_judge_prompt(config, response, reference, images, question, eval_context)
        raw, meta = self._ask(content)
        score, info = parse_judge_score(raw)
        return score, {"info": info, "judge_reply": raw, **meta}
