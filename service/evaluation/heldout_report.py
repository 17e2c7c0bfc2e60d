"""The held-out eval's report (JSON, Markdown, a reliability plot) and the saved calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.drafting.calibration import Calibration

# The calibration shipped with the package: written by `kotae eval heldout --fit` in a checkout.
CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "drafting" / "calibration.json"


def save_calibration(calibration: Calibration, path: Path) -> None:
    path.write_text(json.dumps(calibration.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _plot(reliability: list[dict[str, Any]], path: Path, title: str = "Held-out questions (report split)") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in reliability if r["count"]]
    centres = [(float(r["band"].split("–")[0]) + float(r["band"].split("–")[1])) / 2 for r in rows]
    fig, ax = plt.subplots(figsize=(5, 4), dpi=110)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfectly calibrated")
    ax.bar(centres, [r["right"] for r in rows], width=0.18, color="#2f6db5", alpha=0.85, label="share right")
    for x, r in zip(centres, rows, strict=True):
        ax.annotate(f"n={r['count']}", (x, r["right"]), ha="center", va="bottom", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("confidence")
    ax.set_ylabel("share of drafts right")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(result: dict[str, Any], calibration: Calibration | None, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = {**result, "calibration": calibration.to_json() if calibration else None}
    json_path = out / "heldout.json"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = ["# Held-out questions (report split)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in result["metrics"].items()]
    lines += ["", "## Reliability", "", "| confidence | drafts | share right |", "|---|---|---|"]
    for row in result["reliability"]:
        share = "-" if row["right"] is None else f"{row['right']:.2f}"
        lines.append(f"| {row['band']} | {row['count']} | {share} |")
    lines += ["", "## Flags on drafted answers", "", "| flag | drafts |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in result["flags"].items()]
    if calibration:
        lines += [
            "",
            f"Calibration fitted on {calibration.samples} drafts ({calibration.fitted_on}, {calibration.fitted_at}); "
            f"abstain below {calibration.abstain_below}, bulk accept from {calibration.bulk_accept_from}.",
        ]
    md_path = out / "heldout.md"
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    png_path = out / "heldout.png"
    _plot(result["reliability"], png_path)
    return [json_path, md_path, png_path]


def write_holdout_report(data: dict[str, Any], out: Path) -> list[Path]:
    """`kotae eval holdout --report DIR`: Markdown per sheet and overall, and the reliability plot."""
    out.mkdir(parents=True, exist_ok=True)
    overall = data["overall"]
    judged = overall.get("judge_verdicts") is not None  # an LLM judge ran
    lines = [
        "# Held out from your own sheets",
        "",
        "| sheet | questions | drafted | choice agreement | answer agreement | abstained, answer elsewhere |"
        + (" judge agreement |" if judged else ""),
        "|---|---|---|---|---|---|" + ("---|" if judged else ""),
    ]
    for row in [*data["sources"], overall]:
        lines.append(
            f"| {row['source']} | {row['questions']} | {row['drafted']} | {row['choice_agreement']} | "
            f"{row['answer_agreement']} | {row['abstained_with_answer_elsewhere']} |"
            + (f" {row.get('judge_agreement')} |" if judged else "")
        )
    if judged:
        verdicts = overall["judge_verdicts"]
        lines += ["", "LLM judge verdicts: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()) + "."]
    lines += ["", "## Confidence band → answer agreement", "", "| band | drafts | agreement |", "|---|---|---|"]
    for band in overall["reliability"]:
        lines.append(f"| {band['band']} | {band['count']} | {band['agreement']} |")
    for source in data["sources"]:
        head = "| ref | real | draft | conf. | agrees |" + (" judge |" if judged else "")
        lines += ["", f"## {source['source']}", "", head, "|---|---|---|---|---|" + ("---|" if judged else "")]
        for item in source["items"]:
            real = (item["real_choice"] or "") + " " + item["real_answer"][:80].replace("|", "/").replace("\n", " ")
            drafted = (item["choice"] or "") + " " + item["answer"][:80].replace("|", "/").replace("\n", " ")
            verdict = (item.get("judge") or {}).get("verdict") if judged else None
            lines.append(
                f"| {item['ref']} | {real} | {drafted} | {item['confidence']} | {item['answer_agrees']} |"
                + (f" {verdict or '-'} |" if judged else "")
            )
    md = out / "holdout.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    png = out / "holdout.png"
    _plot(
        [{"band": b["band"], "count": b["count"], "right": b["agreement"]} for b in overall["reliability"]],
        png,
        "Your sheets held out: confidence vs agreement",
    )
    return [md, png]
