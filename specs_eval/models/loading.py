"""Load a VLM and its processor from a local folder or a Hugging Face id.

Why a loader of our own: ``AutoProcessor`` fails without torchvision for every Qwen-VL
checkpoint (it wants a video processor), and when it does not recognise a processor it
silently returns a bare tokenizer, so images would be dropped without an error. We try
the stock path first, check we really got a multimodal processor, and otherwise build
the image-only processor from the tokenizer and the PIL image processor.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError
from specs_eval.core.records import ModelInfo

DEFAULT_MODEL = "tiny-base"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets"


class ModelLoadError(SpecsError):
    """A model could not be loaded; the message says which and why, in one line."""


def shipped_models() -> dict[str, Path]:
    """Checkpoints shipped inside the package (``specs_eval/assets/<name>``)."""
    if not SHIPPED_DIR.exists():
        return {}
    return {p.name: p for p in sorted(SHIPPED_DIR.iterdir()) if (p / "config.json").exists()}


def resolve_model(name_or_path: str) -> str:
    """A shipped model name, a local folder, or a hub id (returned unchanged)."""
    shipped = shipped_models()
    if name_or_path in shipped:
        return str(shipped[name_or_path])
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise ModelLoadError(f"model folder {p} has no config.json")
        return str(p)
    looks_like_path = name_or_path.startswith((".", "/", "~")) or os.sep in name_or_path.strip("/").split("/", 1)[-1]
    if looks_like_path or name_or_path.count("/") != 1:
        known = ", ".join(shipped) or "none"
        raise ModelLoadError(
            f"unknown model {name_or_path!r}: not a shipped model ({known}), a local folder, or an org/name hub id"
        )
    return name_or_path


def check_torchvision() -> None:
    """Fail with advice when a broken torchvision (CUDA wheel beside CPU torch) is installed."""
    if importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except Exception as e:  # RuntimeError: operator torchvision::nms does not exist
        raise ModelLoadError(
            f"torchvision is installed but broken ({type(e).__name__}: {e}); it breaks transformers' VLM "
            "imports. On CPU run: pip uninstall -y torchvision"
        ) from None


def load_processor(path: str, **kwargs: Any) -> Any:
    """The checkpoint's processor; image-only fallback when the stock one cannot be built."""
    from transformers import AutoProcessor, AutoTokenizer, ProcessorMixin

    try:
        proc = AutoProcessor.from_pretrained(path, **kwargs)
        if isinstance(proc, ProcessorMixin) and hasattr(proc, "image_processor"):
            return proc
    except Exception:
        pass
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from specs_eval.models.processor import ImageOnlyQwen2_5_VLProcessor

    try:
        tok = AutoTokenizer.from_pretrained(path, **kwargs)
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(path, **kwargs)
    except Exception as e:
        raise ModelLoadError(f"cannot load a processor for {path}: {type(e).__name__}: {e}") from None
    template = getattr(tok, "chat_template", None)
    if not template:
        raise ModelLoadError(f"{path}: the tokenizer has no chat template")
    return ImageOnlyQwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tok, chat_template=template)


def load_model(name_or_path: str, device: str = "cpu", dtype: str = "auto", revision: str | None = None) -> tuple[Any, Any, ModelInfo]:
    """Model, processor and provenance for a shipped name, local folder or hub id."""
    check_torchvision()
    from transformers import AutoModelForImageTextToText

    path = resolve_model(name_or_path)
    kwargs: dict[str, Any] = {"revision": revision} if revision else {}
    torch_dtype = _dtype(dtype, device)
    try:
        processor = load_processor(path, **kwargs)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch_dtype, **kwargs)
    except ModelLoadError:
        raise
    except OSError as e:
        raise ModelLoadError(f"cannot load model {name_or_path!r}: {str(e).splitlines()[0]}") from None
    except Exception as e:
        raise ModelLoadError(f"cannot load model {name_or_path!r}: {type(e).__name__}: {e}") from None
    model.to(device)
    model.eval()
    info = ModelInfo(
        name=name_or_path if name_or_path in shipped_models() else Path(path).name if Path(path).exists() else path,
        path=path if not Path(path).exists() else _display_path(path),
        backend="hf",
        weights_hash=weights_hash(path),
        chat_template_hash=_sha(getattr(processor, "chat_template", "") or ""),
        processor=_processor_settings(processor),
        dtype=str(torch_dtype).replace("torch.", ""),
        device=device,
    )
    return model, processor, info


def _dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
                "float16": torch.float16, "fp16": torch.float16}[dtype]
    except KeyError:
        raise ModelLoadError(f"unknown dtype {dtype!r}; use auto, float32, bfloat16 or float16") from None


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()[:16]


def weights_hash(path: str) -> str | None:
    """Hash of the weight files of a local checkpoint (hub ids: None; the revision pins them).

    ``training_args.bin`` (a trainer's pickled settings, holding its output folder) is no weight
    file: identical weights saved from two folders hash alike.
    """
    p = Path(path)
    if not p.exists():
        return None
    h = hashlib.sha256()
    files = sorted(p.glob("*.safetensors")) + sorted(f for f in p.glob("*.bin") if f.name != "training_args.bin")
    for f in files:
        h.update(f.name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16] if files else None


def _processor_settings(processor: Any) -> dict[str, Any]:
    ip = getattr(processor, "image_processor", None)
    out: dict[str, Any] = {"class": type(processor).__name__}
    for k in ("min_pixels", "max_pixels", "patch_size", "merge_size"):
        v = getattr(ip, k, None)
        if v is not None:
            out[k] = v
    size = getattr(ip, "size", None)
    if size is not None:
        try:
            out["size"] = {k: v for k, v in dict(size).items() if v is not None}
        except (TypeError, ValueError):
            out["size"] = str(size)
    tok = getattr(processor, "tokenizer", None)
    if tok is not None:
        out["padding_side"] = getattr(tok, "padding_side", None)
    return out


def _display_path(path: str) -> str:
    """Shipped checkpoints are recorded relative to the package, never as machine paths."""
    p = Path(path).resolve()
    try:
        return "specs_eval/assets/" + str(p.relative_to(SHIPPED_DIR.resolve()))
    except ValueError:
        return str(p)
