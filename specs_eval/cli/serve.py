"""``specs-eval serve``: a local OpenAI-compatible server (``transformers serve``) for a checkpoint.

Why: the ``openai`` backend is meant for vLLM/SGLang servers and hosted APIs, but on a CPU
machine (and in our tests) the server at hand is ``transformers serve``, which cannot start on a
Qwen-VL folder without torchvision. This command writes the serving copy that fixes that
(``specs_eval/backends/serving.py``), starts the server on loopback with the settings measured to work
(one torch thread, offline, no remote code), waits until it is healthy, and prints the ``specs-eval
run`` line that evaluates through it: the model is addressed by the name it was served under
(``-m tiny-base``), so run folders are named after it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click


@click.command()
@click.option("--model", "-m", default="tiny-base", show_default=True, help="Shipped model name or local folder.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--workdir", type=click.Path(path_type=Path), help="Where the serving copy and server log go "
              "(default: a new temporary folder).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch threads of the server (1 is fastest on small CPUs: more fight the HTTP event loop).")
@click.option("--response", type=click.Choice(["decode", "passthrough", "stock"]), default="decode",
              show_default=True, help="What the server returns as content: decode = the text model.generate + "
              "decode gives (as HFBackend); passthrough = special tokens kept; stock = transformers' own Qwen "
              "parsing (<think> split off, whitespace stripped).")
@click.option("--timeout", type=click.FloatRange(min=1.0), default=180.0, show_default=True,
              help="Seconds to wait for the server to become healthy.")
@click.option("--served-name", help="The model name clients use (default: -m as given, or the checkpoint "
              "folder's name for an absolute path).")
@click.option("--trust-remote-code", is_flag=True, help="Let the server run Python files the checkpoint carries "
              "(only for models that need their own code; off by default).")
def serve(model: str, port: int, workdir: Path | None, threads: int, response: str, timeout: float,
          served_name: str | None, trust_remote_code: bool) -> None:
    """Serve MODEL with `transformers serve` on 127.0.0.1 until Ctrl-C."""
    import signal

    from specs_eval.backends.serving import start_server

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too: run the finally below, which stops the server

    signal.signal(signal.SIGTERM, _terminate)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="specs-serve-"))
    server = start_server(model, workdir=workdir, port=port or None, threads=threads, timeout_s=timeout,
                          response=response, name=served_name, trust_remote_code=trust_remote_code)
    try:
        click.echo(f"serving {model} as {server.model!r} at {server.base_url} (ready in {server.startup_s:.1f} s; log {server.log_path})")
        click.echo("evaluate through it with:")
        click.echo(f"  specs-eval run --backend openai --base-url {server.base_url} -m {server.model}")
        while server.proc.poll() is None:
            time.sleep(0.5)
        raise click.ClickException(f"the server exited with code {server.proc.returncode}:\n{server.log_tail(1500)}")
    finally:
        server.stop()
