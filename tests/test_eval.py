"""The eval harness: leave-one-sheet-out over labelled sheets, metrics, report, compare, gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.evaluation import report, run
from service.evaluation.runner import ROOT, load_cases


@pytest.fixture(scope="module")
def samples_result():  # noqa: ANN201
    return run("samples")


def test_labels_name_rows_the_parser_produces() -> None:
    for set_name in ("seeds", "samples"):
        files, cases = load_cases(set_name, ROOT / "eval" / "labels")
        assert files and cases
        originals = [c for c in cases if not c.paraphrase]
        assert all(c.ref[0] in files for c in cases)
        assert all(r[0] != c.ref[0] for c in cases for r in c.relevant)  # relevant rows are in other sheets
        if set_name == "seeds":
            assert len([c for c in originals if c.relevant]) >= 60
            assert len([c for c in cases if c.paraphrase]) >= 15
            assert len([c for c in originals if not c.relevant]) >= 5


def test_samples_eval_metrics_and_report(samples_result, tmp_path: Path) -> None:  # noqa: ANN001
    m = samples_result.metrics
    for key in (
        "ja.hit@1",
        "ja.mrr",
        "ja.recall@5",
        "draft.first_citation_relevance",
        "draft.citation_precision",
        "draft.chrf",
        "abstain.precision",
        "abstain.recall",
        "latency.p50_ms",
        "latency.p95_ms",
        "tokens.prompt",
        "tokens.completion",
        "cost.usd_if_llm",
    ):
        assert key in m, key
    assert 0 <= m["ja.hit@1"] <= 1 and m["ja.mrr"] >= m["ja.hit@1"]
    assert m["tokens.prompt"] > 0 and m["cost.usd_if_llm"] > 0
    assert samples_result.calibration and all(0 <= b["accuracy"] <= 1 for b in samples_result.calibration)
    # Held-out sheets never find themselves: every ranked result comes from another sheet.
    assert all(not r.startswith(c["ref"].split(" ")[0] + " ") for c in samples_result.cases for r in c["top5"])

    paths = report.write(samples_result, tmp_path)
    assert json.loads(paths["json"].read_text())["metrics"] == m
    assert "| ja.hit@1 |" in paths["markdown"].read_text() and paths["chart"].stat().st_size > 5000

    older = json.loads(paths["json"].read_text())
    older["metrics"]["ja.hit@1"] = m["ja.hit@1"] - 0.1
    (tmp_path / "old.json").write_text(json.dumps(older))
    compared = report.compare(samples_result, tmp_path / "old.json")
    assert compared["ja.hit@1"] == (pytest.approx(m["ja.hit@1"] - 0.1), m["ja.hit@1"])

    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"samples": {"ja.hit@1": 0.0, "abstain.recall": 1.01}}))
    assert report.gate(samples_result, floors) == [f"abstain.recall: {m['abstain.recall']} < floor 1.01"]
