"""Serve a checkpoint with ``transformers serve`` on loopback: the real OpenAI-compatible server
that tests, benchmarks and CPU users point the ``openai`` backend at.

Why a helper: on a machine without torchvision the stock Qwen-VL processors cannot be
built (they want a video processor), so ``transformers serve <folder>`` dies at start-up.
The fix is a *serving copy* of the checkpoint plus an in-process registration: the weights
are linked, not copied; ``processor_config.json`` names an image-only subclass of the stock
processor, which the server process defines and registers with ``AutoProcessor`` before
transformers' CLI starts (``serving_processor.py``). The server runs **without**
``--trust-remote-code`` (it would execute any ``*.py`` a checkpoint carries); ``specs-eval
serve --trust-remote-code`` turns it on for models that need their own code. The canonical
checkpoint stays stock.

Served name: the server is pinned to the name it is started with and refuses any other
("Server is pinned to …"). The copy is placed at ``WORKDIR/models/<served name>`` and the server
starts in ``WORKDIR/models`` with that relative name, so clients address it by the name the
user served (``-m tiny-base``), and run folders are named after it.

The copy also fixes what the server returns as ``content``. Stock, the server parses Qwen
outputs with a built-in response template that moves ``<think>…</think>`` into
``reasoning_content`` and strips whitespace, so the text is not what the model wrote and
SPECS-format checks would score something else; even a pass-through template keeps special
tokens the model emitted mid-text, which ``generate`` + ``decode`` (and vLLM) drop. By default
the copy makes ``content`` the ``skip_special_tokens=True`` decode of the generated ids, so the
server's text equals ``HFBackend``'s (measured and tested; docs/backends.md).

Server facts this module encodes (measured, transformers 5.23 on 2 CPU cores):
``OMP_NUM_THREADS=1`` for the server (torch threads otherwise fight the event loop that
preprocesses images: 10-25x slower and erratic); ``HF_HUB_OFFLINE=1`` and an *existing* empty
``HF_HUB_CACHE``; readiness is ``GET /health`` (``/v1/models`` returns 500 without a hub cache).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from specs_eval.core.errors import SpecsError

# The processor class per model_type: the stock class whose __init__ we bypass (it wants a video processor).
_STOCK_PROCESSORS = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}
_OLD_PROCESSOR_MODULE = "processing_specs_eval"  # written by earlier versions (remote code); removed from copies

# content = everything up to the end-of-turn token, not stripped (the Qwen default strips and splits <think>)
PASSTHROUGH_RESPONSE_TEMPLATE = {
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {"content": {"close": "<|im_end|>", "content": "text", "content_args": {"strip": False}}},
}


def serve_available() -> str | None:
    """None when ``transformers serve`` can run here, else the reason it cannot."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "openai", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        return (f"transformers serve needs {', '.join(missing)}: pip install -e '.[serve]' "
                "(transformers[serving])")
    return None


RESPONSE_MODES = ("decode", "passthrough", "stock")


def served_name(model: str) -> str:
    """The name a server for ``model`` answers to: the string the user gave when it is a plain relative
    name (a shipped model, ``org/name``, ``runs/x``), else the checkpoint folder's name (its parent's for a
    stage's ``model/`` folder). Names with ``:`` or ``@`` are replaced (transformers reads them as
    a GGUF file or a revision)."""
    text = model.strip().removeprefix("./").rstrip("/")
    parts = Path(text).parts
    if text and not Path(text).is_absolute() and ".." not in parts and not text.startswith("~") and \
            not any(c in text for c in ":@\\") and Path(text).name != "model":
        return text
    p = Path(model).expanduser()
    name = p.parent.name if p.name == "model" and p.parent.name else p.name
    clean = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-")
    return clean or "model"


def prepare_serving_copy(model: str | Path, out: str | Path, response: str = "decode") -> Path:
    """Write a serving copy of a local Qwen2-VL / Qwen2.5-VL checkpoint into ``out`` (see module doc).

    A text-only checkpoint (no ``vision_config``) is copied as it is (tests use one to check that the
    openai backend refuses a server that drops images).

    ``response`` says what the server returns as ``content``: ``decode`` the generated ids decoded
    with ``skip_special_tokens=True`` (as ``HFBackend`` and vLLM do); ``passthrough`` the raw text
    up to the end-of-turn token, special tokens kept; ``stock`` the server's own Qwen parsing
    (``<think>`` moved to ``reasoning_content``, whitespace stripped).
    """
    if response not in RESPONSE_MODES:
        raise SpecsError(f"response mode {response!r}: use one of {', '.join(RESPONSE_MODES)}")
    from specs_eval.models.loading import resolve_model

    src = Path(resolve_model(str(model)))
    if not src.is_dir():
        raise SpecsError(f"{model}: a serving copy needs a local checkpoint folder (hub ids: serve them directly "
                         "where torchvision is installed)")
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    stock = _STOCK_PROCESSORS.get(config.get("model_type", ""))
    if stock is None and "vision_config" in config:
        raise SpecsError(f"{src}: model_type {config.get('model_type')!r} has no image-only serving processor "
                         f"(known: {', '.join(_STOCK_PROCESSORS)})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if not f.is_file():
            continue
        dst = out / f.name
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        if f.suffix in (".safetensors", ".bin", ".pt", ".gguf"):
            os.symlink(f.resolve(), dst)  # weights are linked, never copied
        else:
            shutil.copyfile(f, dst)
    (out / f"{_OLD_PROCESSOR_MODULE}.py").unlink(missing_ok=True)
    if stock is not None:  # a VLM: the image-only processor the server registers in-process (serving_processor)
        from specs_eval.backends.serving_processor import CLASS_NAME

        proc_cfg_path = out / "processor_config.json"
        proc_cfg = json.loads(proc_cfg_path.read_text(encoding="utf-8")) if proc_cfg_path.exists() else {}
        proc_cfg["processor_class"] = CLASS_NAME
        proc_cfg.pop("auto_map", None)
        proc_cfg_path.write_text(json.dumps(proc_cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    gen_cfg_path = out / "generation_config.json"
    if gen_cfg_path.exists():
        # OpenAI requests have no do_sample: the server samples iff temperature > 0 only when the
        # checkpoint's default is do_sample=True (temperature 0 still switches it off per request)
        gen_cfg = json.loads(gen_cfg_path.read_text(encoding="utf-8"))
        gen_cfg["do_sample"] = True
        gen_cfg_path.write_text(json.dumps(gen_cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if response != "stock":
        tok_cfg_path = out / "tokenizer_config.json"
        tok_cfg = json.loads(tok_cfg_path.read_text(encoding="utf-8")) if tok_cfg_path.exists() else {}
        tok_cfg["response_template"] = PASSTHROUGH_RESPONSE_TEMPLATE
        tok_cfg_path.write_text(json.dumps(tok_cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(home: Path, threads: int = 1) -> dict[str, str]:
    """Environment for a CPU ``transformers serve``: one torch thread, offline, an isolated empty hub cache,
    and this package importable (the server registers our processor from it)."""
    (home / "hub").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(home),
               HF_HUB_CACHE=str(home / "hub"), HF_MODULES_CACHE=str(home / "modules"),
               TOKENIZERS_PARALLELISM="false")
    root = str(Path(__file__).resolve().parents[2])
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    return env


def serve_command(model_dir: str | Path, port: int, host: str = "127.0.0.1", device: str = "cpu",
                  extra: tuple[str, ...] = (), model_type: str | None = None, decode: bool = True,
                  trust_remote_code: bool = False) -> list[str]:
    """``transformers serve`` via the CLI entry point of this interpreter's transformers, after registering
    the image-only processor for ``model_type`` (a Qwen-VL serving copy; None: nothing to register)."""
    register = (f"from specs_eval.backends.serving_processor import install; install({model_type!r}, {decode!r}); "
                if model_type in _STOCK_PROCESSORS else "")
    code = f"import sys; {register}from transformers.cli.transformers import main; sys.argv[0] = 'transformers'; main()"
    return [sys.executable, "-c", code, "serve", str(model_dir), "--device", device,
            *(["--trust-remote-code"] if trust_remote_code else []), "--host", host, "--port", str(port), *extra]


def wait_healthy(base: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None,
                 log_path: Path | None = None) -> None:
    """Poll ``{base}/health`` until it answers 200; fail early if the server process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path and log_path.exists() else ""
            raise SpecsError(f"the server exited with code {proc.returncode} before it was ready:\n{tail}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SpecsError(f"no healthy server at {base} after {timeout_s:.0f} s")


def _die_with_parent() -> None:
    """In the server child (Linux): get SIGTERM when the process that started it dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class LocalServer:
    """A running ``transformers serve`` process: ``base_url`` is its ``/v1`` root, ``model`` the name it serves."""

    proc: subprocess.Popen[bytes]
    port: int
    model: str
    log_path: Path
    workdir: Path
    startup_s: float = 0.0
    _closed: bool = field(default=False, repr=False)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def stop(self) -> None:
        """Terminate the server's process group, then kill it if it lingers."""
        if self._closed:
            return
        self._closed = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_server(model: str | Path, workdir: str | Path | None = None, port: int | None = None,
                 threads: int = 1, timeout_s: float = 120.0, response: str = "decode", name: str | None = None,
                 trust_remote_code: bool = False) -> LocalServer:
    """Make a serving copy of ``model`` and start ``transformers serve`` on loopback; wait for /health.

    ``name`` is the model name the server answers to (default ``served_name(model)``). The caller
    must ``stop()`` it (``local_server`` does so in a ``finally``).
    """
    reason = serve_available()
    if reason:
        raise SpecsError(reason)
    name = name or served_name(str(model))
    if Path(name).is_absolute() or ".." in Path(name).parts or any(c in name for c in ":@\\") or not name.strip():
        raise SpecsError(f"served name {name!r}: use a plain relative name such as tiny-base or org/my-model")
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="specs-serve-"))
    models = workdir / "models"
    copy = prepare_serving_copy(model, models / name, response=response)
    model_type = json.loads((copy / "config.json").read_text(encoding="utf-8")).get("model_type")
    port = port or free_port()
    log_path = workdir / "server.log"
    t0 = time.monotonic()
    cmd = serve_command(name, port, model_type=model_type, decode=response == "decode",
                        trust_remote_code=trust_remote_code)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=server_env(workdir / "hf-home", threads), cwd=models,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_die_with_parent)
    server = LocalServer(proc=proc, port=port, model=name, log_path=log_path, workdir=workdir)
    try:
        wait_healthy(server.root, timeout_s, proc, log_path)
    except BaseException:
        server.stop()
        raise
    server.startup_s = time.monotonic() - t0
    return server


@contextlib.contextmanager
def local_server(model: str | Path, **kwargs: object) -> Iterator[LocalServer]:
    """``start_server`` as a context manager that always stops the server."""
    server = start_server(model, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
