"""A hostile or broken data folder (issue 15 item 3, issue 13 "bad input", issue 16's split filter).

Each case from the issues: files named by rows outside the data folder (absolute paths, ``..``,
a per-row ``_base_dir``, a MathVista ``decoded_image`` path, a symbolic link out), URLs (refused,
never fetched offline, fetched from a loopback server only with ``--allow-urls``), a
20000×20000 PNG, ``metadata: null``, a 1 MB ``query``, a row without ``pid``, ``choices:
"ABCD"``, ``precision: "abc"``, a non-UTF-8 file, a byte-order mark, a split tag that matches
no row. Every error is one line naming the file, the row and the field; ``--skip-bad-rows``
turns row errors into counted skips recorded in the run manifest.
"""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from specs_eval.benchmarks import datapaths, get_benchmark
from specs_eval.benchmarks.local import load_image
from specs_eval.benchmarks.toyworld.export import export_split
from specs_eval.cli import main
from specs_eval.core.errors import BenchmarkError
from tests.conftest import mathvista_row, run_cli


@pytest.fixture(autouse=True)
def _offline_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    datapaths.configure(skip_bad_rows=False, allow_urls=False)


def png(path: Path, size: tuple[int, int] = (8, 6), colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def mv_rows(folder: Path, n: int = 3) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        r = mathvista_row(str(i))
        png(folder / r["image"], (8 + i, 6))
        rows.append(r)
    return rows


def load_mv(path: Path, split: str = "testmini") -> Any:
    return get_benchmark("mathvista").load(split, data=path)


def one_line_error(fn: Any, *needles: str) -> str:
    with pytest.raises(BenchmarkError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# ---------------------------------------------------------------------------------------------- paths


def test_image_paths_stay_inside_the_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = mv_rows(data)
    secret = png(tmp_path / "outside" / "secret.png")
    assert len(load_mv(write_rows(data / "ok.jsonl", rows)).rows) == 3
    cases = {
        "absolute": dict(rows[1], image=str(secret)),
        "dotdot": dict(rows[1], image="../outside/secret.png"),
        "decoded_path": dict(rows[1], decoded_image={"bytes": None, "path": str(secret)}),
        "decoded_str": dict(rows[1], decoded_image="../../outside/secret.png"),
    }
    for name, bad in cases.items():
        path = write_rows(data / f"{name}.jsonl", [rows[0], bad, rows[2]])
        one_line_error(lambda p=path: load_mv(p), f"{name}.jsonl:2 (pid=2)", "points outside the data folder")
    (data / "images" / "link.png").symlink_to(secret)
    path = write_rows(data / "link.jsonl", [dict(rows[0], image="images/link.png")])
    one_line_error(lambda: load_mv(path), "link.jsonl:1", "points outside", "symbolic links out count as outside")
    # a prompt built from a row that slipped past the loader is refused too (no data folder: no file reads)
    with pytest.raises(BenchmarkError, match="no data folder"):
        load_image(str(secret), None, "image of 2")
    with pytest.raises(BenchmarkError, match="points outside"):
        load_image("../outside/secret.png", data, "image of 2")


def test_per_row_base_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = mv_rows(data)
    png(tmp_path / "elsewhere" / "images" / "2.jpg")
    path = write_rows(data / "d.jsonl", [rows[0], dict(rows[1], _base_dir=str(tmp_path / "elsewhere"))])
    one_line_error(lambda: load_mv(path), "d.jsonl:2", "'_base_dir' is reserved")


def test_urls_refused_unless_allowed_and_never_fetched_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (13, 7), (1, 2, 3)).save(buf, "PNG")
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(buf.getvalue())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/img.png"
    try:
        data = tmp_path / "data"
        rows = mv_rows(data, 1)
        path = write_rows(data / "u.jsonl", [dict(rows[0], decoded_image=url)])
        one_line_error(lambda: load_mv(path), "u.jsonl:1 (pid=1)", "is a URL", "--allow-urls")
        # the same URL in a parquet file's Image column (datasets would have fetched it while decoding)
        import datasets
        import pyarrow as pa
        import pyarrow.parquet as pq

        feats = datasets.Features({**{k: datasets.Value("string") for k in ("pid", "question", "query", "image",
                                                                              "answer", "question_type", "answer_type")},
                                   "choices": datasets.Sequence(datasets.Value("string")),
                                   "decoded_image": datasets.Image()})
        row = {k: rows[0][k] for k in feats if k != "decoded_image"} | {"decoded_image": {"bytes": None, "path": url}}
        # written with pyarrow: datasets itself would download the URL while encoding the row
        pq.write_table(pa.Table.from_pylist([row], schema=feats.arrow_schema), data / "p.parquet")
        one_line_error(lambda: load_mv(data / "p.parquet"), "is a URL")
        with datapaths.using(allow_urls=True):
            monkeypatch.setenv("HF_HUB_OFFLINE", "1")
            one_line_error(lambda: load_mv(path), "offline mode is set")
            monkeypatch.delenv("HF_HUB_OFFLINE")
            loaded = load_mv(path)
            assert hits == []  # loading checks the row; the image is fetched when the prompt is built
            img = get_benchmark("mathvista").build_prompt(loaded.rows[0]).images[0]
        assert img.size == (13, 7) and hits == ["/img.png"]
        r = run_cli("run", "-m", "tiny-base", "-b", "mathvista", "--data", str(path), "--out", str(tmp_path / "r"),
                    env={"HF_HUB_OFFLINE": "1"})
        assert r.returncode == 2 and "--allow-urls" in r.stderr and "Traceback" not in r.stderr
        assert hits == ["/img.png"]
    finally:
        server.shutdown()


def test_huge_image_is_a_one_line_error(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("1", (20000, 20000)).save(big)
    msg = one_line_error(lambda: load_image("big.png", tmp_path, "image of 7"), "image of 7",
                         "400,000,000 pixels exceeds the image limit of 89,478,485")
    assert "DecompressionBomb" not in msg
    with datapaths.using(max_image_pixels=100):
        one_line_error(lambda: load_image(png(tmp_path / "s.png", (20, 10)).name, tmp_path, "im"),
                       "20×10 = 200 pixels exceeds the image limit of 100")
    with datapaths.using(max_image_bytes=10):
        one_line_error(lambda: load_image("s.png", tmp_path, "im"), "exceeds the image limit of 10")


# ---------------------------------------------------------------------------------------------- rows


def test_row_schema_cases_from_the_issue(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = mv_rows(data)
    null_meta = write_rows(data / "null.jsonl", [rows[0], dict(rows[1], metadata=None), rows[2]])
    assert len(load_mv(null_meta).rows) == 3  # metadata: null is no metadata, not a crash
    mixed = write_rows(data / "mixed.jsonl", [rows[0], dict(rows[1], metadata=None),
                                              dict(rows[2], metadata={**rows[2]["metadata"], "split": "test"})])
    one_line_error(lambda: load_mv(mixed), "mixed.jsonl:2 has no split tag")
    cases = {
        "query": (dict(rows[1], query="q" * 1_048_576), "query: longer than 65,536 characters"),
        "pid": ({k: v for k, v in rows[1].items() if k != "pid"}, "lacks field(s) pid"),
        "choices": (dict(rows[1], choices="ABCD"), "choices: Input should be a valid list"),
        "precision": (dict(rows[1], question_type="free_form", answer_type="float", choices=None, answer="1.5",
                           precision="abc"), "precision: Input should be a valid number"),
        "gold": (dict(rows[1], answer="kiwi"), "answer: 'kiwi' is not one of the choices"),
        "integer": (dict(rows[1], question_type="free_form", answer_type="integer", choices=None, answer="7.5"),
                    "answer: '7.5' is not an integer"),
        "empty_pid": (dict(rows[1], pid=""), "pid: empty id"),
    }
    for name, (bad, needle) in cases.items():
        path = write_rows(data / f"{name}.jsonl", [rows[0], bad, rows[2]])
        one_line_error(lambda p=path: load_mv(p), f"{name}.jsonl:2", needle)
    with datapaths.using(skip_bad_rows=True):
        loaded = load_mv(data / "choices.jsonl")
    assert [r["pid"] for r in loaded.rows] == ["1", "3"] and loaded.info.skipped == {"choices": 1}
    assert "choices.jsonl:2 (pid=2): choices: Input should be a valid list" in loaded.info.skipped_rows[0]


def test_encodings(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = mv_rows(data)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (data / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [r["pid"] for r in load_mv(data / "bom.jsonl").rows] == ["1", "2", "3"]  # line 1 kept
    (data / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(rows).encode())
    assert len(load_mv(data / "bom.json").rows) == 3
    lines = text.splitlines(keepends=True)
    (data / "latin1.jsonl").write_bytes(lines[0].encode() + lines[1].replace("What", "Wh\u00e4t").encode("latin-1")
                                        + lines[2].encode())
    one_line_error(lambda: load_mv(data / "latin1.jsonl"), "latin1.jsonl:2: not valid UTF-8 (byte 0xe4")
    (data / "latin1.json").write_bytes(json.dumps(rows, indent=1).replace("What", "Wh\u00e4t").encode("latin-1"))
    one_line_error(lambda: load_mv(data / "latin1.json"), "latin1.json: line 4: not valid UTF-8")
    preds = tmp_path / "p.jsonl"  # predictions with a byte-order mark keep their first line too
    preds.write_bytes(b"\xef\xbb\xbf" + b'{"id": "1", "response": "(B)"}\n{"id": "2", "response": "(B)"}\n')
    main(["score", "--benchmark", "mathvista", "--data", str(data / "bom.jsonl"), "--predictions", str(preds),
          "--out", str(tmp_path / "o")])
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["benchmarks"]["mathvista"]["splits"]["testmini"]["n"] == 2
    assert not any("skipped" in w for w in res["warnings"])


# ---------------------------------------------------------------------------------------------- split tags


def test_a_split_tag_that_matches_no_row_lists_the_known_tags(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = mv_rows(data)
    path = write_rows(data / "d.jsonl", rows)
    one_line_error(lambda: load_mv(path, "test"), "no row has split 'test'", "tags in the data are: testmini")
    toy = export_split("id", tmp_path / "toy", n=3)
    with pytest.raises(BenchmarkError, match="no row has split 'ood_format'; the split tags in the data are: id"):
        get_benchmark("toyworld").load("ood_format", data=toy)
    both = write_rows(tmp_path / "toy" / "both.jsonl",
                      [json.loads(x) for x in toy.read_text().splitlines()]
                      + [json.loads(x) for x in export_split("ood_format", tmp_path / "toy", n=2).read_text().splitlines()])
    assert len(get_benchmark("toyworld").load("ood_format", data=both).rows) == 2
    assert len(get_benchmark("toyworld").load("id", data=both).rows) == 3


def test_megabench_media_paths_stay_inside(tmp_path: Path) -> None:
    from tests.hub_layouts import make_megabench_snapshot

    fx = make_megabench_snapshot(tmp_path)
    rows = get_benchmark("megabench").load("core", data=fx.root).rows
    bad = dict(rows[0], example_text="", example_media="[]", query_media=repr(["../../outside.png"]))
    path = write_rows(tmp_path / "mb.jsonl", [bad])
    one_line_error(lambda: get_benchmark("megabench").load("core", data=path), "mb.jsonl:1 (id=1)", "query_media",
                   "points outside")


# ---------------------------------------------------------------------------------------------- through run


def test_run_skips_and_records_bad_rows_and_counts_a_huge_image(micro_model: Path, tmp_path: Path) -> None:
    data = export_split("id", tmp_path / "toy", n=4)
    rows = [json.loads(x) for x in data.read_text().splitlines()]
    Image.new("1", (20000, 20000)).save(tmp_path / "toy" / rows[0]["image"])
    rows[2].pop("answer")
    rows[3]["metadata"] = None
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ("run", "-m", str(micro_model), "--data", str(data), "-s", "id", "--max-new-tokens", "2", "-q",
            "--no-report", "--out", str(tmp_path / "runs"))
    r = run_cli(*args, "--run-name", "strict")
    assert r.returncode == 2 and f"id.jsonl:3 (pid={rows[2]['pid']}): lacks field(s) answer" in r.stderr
    assert "--skip-bad-rows" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(*args, "--run-name", "skip", "--skip-bad-rows")
    assert r.returncode == 1, r.stderr  # the huge image's samples failed: no silent zero (--allow-errors accepts)
    assert "--allow-errors" in r.stderr
    assert "1 bad row(s) skipped: lacks field(s) answer (1)" in r.stderr and "Traceback" not in r.stderr
    manifest = json.loads((tmp_path / "runs" / "skip" / "manifest.json").read_text())
    info = manifest["datasets"][0]
    assert info["rows"] == 3 and info["skipped"] == {"lacks field(s) answer": 1}
    assert rows[2]["pid"] in info["skipped_rows"][0]
    gens = {g["id"]: g for g in (json.loads(x) for x in (tmp_path / "runs" / "skip" / "generations.jsonl")
                                 .read_text().splitlines())}
    assert "400,000,000 pixels exceeds the image limit" in gens[rows[0]["pid"]]["error"]
    assert not gens[rows[3]["pid"]]["error"]  # metadata: null loads and runs


def test_the_same_item_from_two_folders_has_one_doc_hash(tmp_path):
    """doc_hash is the item's content: a loader's private ``_base_dir`` (a machine path) is not part of it,
    so comparing two runs of the same data read from different folders is not refused as 'different content'."""
    from specs_eval.core.prompt import row_hash

    row = {"pid": "1", "query": "q", "answer": "A"}
    assert row_hash({**row, "_base_dir": str(tmp_path / "a")}) == row_hash({**row, "_base_dir": str(tmp_path / "b")})
    assert row_hash(row) != row_hash({**row, "answer": "B"})
