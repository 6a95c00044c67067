"""Prepare the next batch while the current one generates: one background thread, one batch ahead.

Why: between two ``generate`` calls a backend has work that does not need the model: loading
images, the chat template, tokenisation, image processing (``HFBackend.prepare``). Done in line,
the model waits for it every batch; done one batch ahead in a thread, only the first batch waits,
as long as generation leaves the GIL and a core free (a GPU, a server, image files being read).
A Python-bound CPU model does not: on 2 cores with the 2M-parameter model the thread measured no
faster than preparing in line (docs/backends.md, "HF backend throughput on this CPU"). One thread
and one batch of lookahead keep memory bounded and the order of everything the caller sees
unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetched(items: Sequence[T], prepare: Callable[[T], R]) -> Iterator[tuple[T, R]]:
    """``(item, prepare(item))`` in order; ``prepare`` of the next item runs in a background thread
    while the caller works on the current one. An exception in ``prepare`` surfaces at its item."""
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="specs-prefetch")
    try:
        fut: Future[Any] = pool.submit(prepare, items[0])
        for i, item in enumerate(items):
            ready = fut.result()
            if i + 1 < len(items):
                fut = pool.submit(prepare, items[i + 1])
            yield item, ready
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
