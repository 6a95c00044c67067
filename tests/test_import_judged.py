"""VLMEvalKit judged files: the judge's extraction column is imported and used; .xlsx needs openpyxl.

The files are written here in VLMEvalKit's own layout (``vlmeval/dataset/utils/mathvista.py`` adds
``res`` and ``log`` to the prediction table after its GPT extraction; ``mathverse.py`` adds
``extract`` and ``log_extract``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from specs_eval.cli import main
from specs_eval.run.importers import import_vlmevalkit

from .conftest import mathvista_row, write_jsonl

HEADER = "index\tquestion\tprediction\tanswer\tres\tlog\n"


def _judged(tmp_path: Path) -> Path:
    p = tmp_path / "m_MathVista_MINI_gpt-4o-mini.tsv"
    p.write_text(HEADER
                 + "1\tq\tI think it is the second fruit, a pear.\tpear\tB\tSucceed\n"
                 + "2\tq\tNo idea at all.\tpear\t\tTry 0: failed to parse.\\nAll 5 retries failed.\n"
                 + "3\tq\tThe answer is (C).\tpear\tC\tPrefetch succeed\n", encoding="utf-8")
    return p


def test_judged_column_becomes_the_extraction(tmp_path):
    preds, problems = import_vlmevalkit(_judged(tmp_path), "pid", "mathvista")
    assert preds == [{"id": "1", "response": "I think it is the second fruit, a pear.", "extraction": "B"},
                     {"id": "2", "response": "No idea at all."},
                     {"id": "3", "response": "The answer is (C).", "extraction": "C"}]
    assert len(problems) == 1 and "row 2" in problems[0] and "judge's extraction failed" in problems[0]
    # without the benchmark, only a column literally named `extraction` counts
    assert all("extraction" not in p for p in import_vlmevalkit(_judged(tmp_path), "pid")[0])


def test_score_official_uses_the_judged_extraction(tmp_path, capsys):
    data = write_jsonl(tmp_path / "testmini.jsonl", [mathvista_row(str(i)) for i in (1, 2, 3)])
    preds = tmp_path / "preds.jsonl"
    main(["import", "vlmevalkit", str(_judged(tmp_path)), "--benchmark", "mathvista", "--out", str(preds)])
    assert "2 with the judge's extraction" in capsys.readouterr().out
    main(["score", "--benchmark", "mathvista", "--data", str(data), "--split", "testmini", "--predictions",
          str(preds), "--profile", "official", "--out", str(tmp_path / "scored")])
    samples = {s["id"]: s for s in map(json.loads, (tmp_path / "scored" / "samples.jsonl").read_text().splitlines())}
    assert samples["1"]["correct"] and samples["1"]["scores"]["official"]["method"] == "given_extraction"
    assert not samples["3"]["correct"]  # C is "fig": the judge's letter decides, not our reading of the text


@pytest.mark.skipif(importlib.util.find_spec("openpyxl") is None,
                    reason="openpyxl is not installed here: pip install 'specs-eval[interop]'")
def test_xlsx_with_openpyxl(tmp_path):
    import pandas as pd

    p = tmp_path / "m_MathVista_MINI_gpt-4o-mini.xlsx"
    pd.DataFrame([{"index": 1, "prediction": "pear", "res": "B", "log": "Succeed"}]).to_excel(p, index=False)
    preds, problems = import_vlmevalkit(p, "pid", "mathvista")
    assert preds == [{"id": "1", "response": "pear", "extraction": "B"}] and not problems


@pytest.mark.skipif(importlib.util.find_spec("openpyxl") is not None, reason="openpyxl is installed")
def test_xlsx_without_openpyxl_names_the_extra(tmp_path):
    import zipfile

    from specs_eval.core.errors import SpecsError

    p = tmp_path / "x.xlsx"  # enough of an .xlsx for pandas to pick its openpyxl reader
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(SpecsError, match=r"specs-eval\[interop\]"):
        import_vlmevalkit(p, "pid", "mathvista")
