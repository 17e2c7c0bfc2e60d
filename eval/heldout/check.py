"""Validate the held-out question set and print its counts.

    .venv/bin/python eval/heldout/check.py [--seeds ../shared/seeds]

Checks the schema of every line of questions.jsonl, that every "relevant" ref names a row the
parser actually produces from the seed sheets (key = first three characters of the file name,
ref = "KEY LOCATOR"), the size and mix of the set, the fit/report split, and that no question
copies a long run of seed text. Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("yesno", "open", "compound", "negative")
LANGS = ("ja", "en")
CHOICES = {"yes", "no", "na", None}
KEYS = {"id", "language", "question", "kind", "topic", "answerable", "relevant", "expected_choice", "notes", "split"}
PART_KEYS = {"question", "relevant", "expected_choice", "answerable"}
MIN_PER_LANG = 160
# Target mix (share of a language's questions) and the tolerance the check allows.
TARGET_SHARE = {"yesno": 0.40, "open": 0.20, "compound": 0.20, "negative": 0.15}
SHARE_TOLERANCE = 0.07
UNANSWERABLE_RANGE = (0.28, 0.42)
MAX_EN_PAIRED = 1 / 3
COPY_RUN = 20  # characters of seed text a question may not reproduce verbatim
# Closeness limits: a Japanese question against every seed row's own question text (character
# bigram Jaccard), an English question against the English paraphrases already used for tuning
# in eval/labels/seeds.json (content-word Jaccard). Above these, the item is a paraphrase/leak.
MAX_JA_SEED_SIMILARITY = 0.5
MAX_EN_TUNING_SIMILARITY = 0.45
TUNING_LABELS = ROOT / "eval" / "labels" / "seeds.json"
_STOP = set(
    [
        "a",
        "an",
        "and",
        "any",
        "are",
        "be",
        "by",
        "do",
        "does",
        "for",
        "how",
        "if",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "to",
        "us",
        "we",
        "what",
        "when",
        "which",
        "with",
        "you",
        "your",
    ]
)


def seed_rows(seeds: Path) -> tuple[dict[str, str], dict[str, str]]:
    """ref -> concatenated row text (question + answer over all product variants), and
    ref -> the row's question text."""
    from service.ingest import parse_file

    rows: dict[str, str] = defaultdict(str)
    questions: dict[str, str] = {}
    for p in sorted(seeds.iterdir()):
        if not p.is_file():
            continue
        doc = parse_file(p)
        for it in doc.items:
            ref = f"{p.name[:3]} {it.locator}"
            rows[ref] += "\n" + (it.question or "") + "\n" + (it.answer or "")
            questions[ref] = it.question or ""
    return dict(rows), questions


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _bigrams(text: str) -> set[str]:
    t = _norm(text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - _STOP


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=Path, default=ROOT.parent / "shared" / "seeds")
    ap.add_argument("--questions", type=Path, default=HERE / "questions.jsonl")
    args = ap.parse_args()

    errors: list[str] = []
    warnings: list[str] = []

    def err(qid: str, msg: str) -> None:
        errors.append(f"{qid}: {msg}")

    refs, seed_questions = seed_rows(args.seeds)
    seed_q_bigrams = {ref: _bigrams(q) for ref, q in seed_questions.items()}
    tuning_en: dict[str, str] = {}
    if TUNING_LABELS.exists():
        tuning_en = json.loads(TUNING_LABELS.read_text(encoding="utf-8")).get("paraphrases_en", {})
    tuning_words = {ref: _words(q) for ref, q in tuning_en.items()}
    seed_grams: set[str] = set()
    for text in refs.values():
        t = _norm(text)
        seed_grams.update(t[i : i + COPY_RUN] for i in range(len(t) - COPY_RUN + 1))

    rows = []
    for n, line in enumerate(args.questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: invalid JSON ({e})")

    seen: set[str] = set()
    for r in rows:
        qid = str(r.get("id", "?"))
        missing = KEYS - r.keys()
        if missing:
            err(qid, f"missing keys {sorted(missing)}")
            continue
        extra = r.keys() - KEYS - {"parts"}
        if extra:
            err(qid, f"unknown keys {sorted(extra)}")
        if qid in seen:
            err(qid, "duplicate id")
        seen.add(qid)
        if r["language"] not in LANGS or not re.fullmatch(rf"{r['language']}-\d{{3}}", qid):
            err(qid, "bad id or language")
        if r["kind"] not in KINDS:
            err(qid, f"bad kind {r['kind']!r}")
        if not isinstance(r["question"], str) or len(r["question"].strip()) < 8:
            err(qid, "question missing or too short")
        if not isinstance(r["topic"], str) or not r["topic"]:
            err(qid, "topic missing")
        if not isinstance(r["notes"], str):
            err(qid, "notes must be a string")
        if r["split"] not in ("fit", "report"):
            err(qid, f"bad split {r['split']!r}")
        if not isinstance(r["answerable"], bool):
            err(qid, "answerable must be a boolean")
        rel = r["relevant"]
        if not isinstance(rel, list) or not all(isinstance(x, str) for x in rel):
            err(qid, "relevant must be a list of strings")
            continue
        if len(set(rel)) != len(rel):
            err(qid, "duplicate relevant refs")
        for ref in rel:
            if ref not in refs:
                err(qid, f"relevant ref {ref!r} is not a parsed seed row")
        if r["expected_choice"] not in CHOICES:
            err(qid, f"bad expected_choice {r['expected_choice']!r}")
        if r["answerable"] and not rel:
            err(qid, "answerable but no relevant rows")
        if not r["answerable"] and (rel or r["expected_choice"] is not None):
            err(qid, "unanswerable must have no relevant rows and a null choice")
        if r["kind"] == "open" and r["expected_choice"] is not None:
            err(qid, "open questions take a null expected_choice")
        if r["topic"] == "injection" and r["answerable"]:
            err(qid, "prompt-injection items are labelled unanswerable")
        # compound parts
        if r["kind"] == "compound":
            parts = r.get("parts")
            if not isinstance(parts, list) or len(parts) < 2:
                err(qid, "compound needs a parts list with at least two sub-questions")
            else:
                union: list[str] = []
                for i, p in enumerate(parts):
                    if not isinstance(p, dict) or set(p) != PART_KEYS:
                        err(qid, f"part {i}: keys must be {sorted(PART_KEYS)}")
                        continue
                    if p["expected_choice"] not in CHOICES:
                        err(qid, f"part {i}: bad expected_choice")
                    if p["answerable"] != bool(p["relevant"]):
                        err(qid, f"part {i}: answerable must equal bool(relevant)")
                    if p["expected_choice"] is not None and not p["relevant"]:
                        err(qid, f"part {i}: a choice needs evidence")
                    for ref in p["relevant"]:
                        if ref not in refs:
                            err(qid, f"part {i}: ref {ref!r} is not a parsed seed row")
                        if ref not in union:
                            union.append(ref)
                if set(union) != set(rel):
                    err(qid, "relevant must be the union of the parts' relevant lists")
                if r["answerable"] != any(p.get("relevant") for p in parts if isinstance(p, dict)):
                    err(qid, "a compound question is answerable iff at least one part is")
        elif "parts" in r:
            err(qid, "only compound questions have parts")
        # no verbatim copying of seed text, no near-paraphrase of a seed row or a tuning question
        q = _norm(r["question"])
        for i in range(len(q) - COPY_RUN + 1):
            if q[i : i + COPY_RUN] in seed_grams:
                err(qid, f"question reproduces seed text: {q[i : i + COPY_RUN]!r}")
                break
        if r["language"] == "ja":
            qb = _bigrams(r["question"])
            sim, ref = max(((_jaccard(qb, b), ref) for ref, b in seed_q_bigrams.items()), default=(0.0, ""))
            if sim >= MAX_JA_SEED_SIMILARITY:
                err(qid, f"too close to seed row {ref} ({sim:.2f})")
        else:
            qw = _words(r["question"])
            sim, ref = max(((_jaccard(qw, w), ref) for ref, w in tuning_words.items()), default=(0.0, ""))
            if sim >= MAX_EN_TUNING_SIMILARITY:
                err(qid, f"too close to the tuning paraphrase of {ref} ({sim:.2f})")

    # ---- counts -----------------------------------------------------------------------
    by = Counter((r["language"], r["kind"], r["answerable"]) for r in rows if r.get("kind") in KINDS)
    per_lang = Counter(r["language"] for r in rows)
    print("counts: language x kind x answerable (answerable / unanswerable / total, share of language)")
    print(f"{'':10}" + "".join(f"{k:>22}" for k in KINDS) + f"{'total':>16}")
    for lang in LANGS:
        cells = []
        for k in KINDS:
            a, u = by[(lang, k, True)], by[(lang, k, False)]
            cells.append(f"{a:>4} /{u:>3} /{a + u:>4} ({(a + u) / max(per_lang[lang], 1):4.0%})")
        a_all = sum(by[(lang, k, True)] for k in KINDS)
        u_all = sum(by[(lang, k, False)] for k in KINDS)
        print(f"{lang:10}" + "".join(f"{c:>22}" for c in cells) + f"{a_all:>6} /{u_all:>3} /{a_all + u_all:>4}")
    total_a = sum(v for (_lang, k, a), v in by.items() if a)
    total_u = sum(v for (_lang, k, a), v in by.items() if not a)
    print(
        f"{'all':10}"
        + "".join(
            f"{by[('ja', k, True)] + by[('en', k, True)]:>4} /{by[('ja', k, False)] + by[('en', k, False)]:>3} /"
            f"{sum(by[(lg, k, a)] for lg in LANGS for a in (True, False)):>4}       "
            for k in KINDS
        )
        + f"{total_a:>6} /{total_u:>3} /{total_a + total_u:>4}"
    )

    print("\nsplit: language x answerable")
    sp = Counter((r["language"], r["answerable"], r["split"]) for r in rows)
    for lang in LANGS:
        for ans in (True, False):
            f_, rep = sp[(lang, ans, "fit")], sp[(lang, ans, "report")]
            print(f"  {lang} answerable={ans!s:5}  fit {f_:>3}  report {rep:>3}")
            if abs(f_ - rep) > 1:
                errors.append(f"split unbalanced for {lang}/answerable={ans}: {f_} vs {rep}")

    inj = Counter(r["language"] for r in rows if r.get("topic") == "injection")
    paired = sum(1 for r in rows if r["language"] == "en" and "pair: ja-" in r.get("notes", ""))
    compound_partial = sum(
        1
        for r in rows
        if r.get("kind") == "compound" and r["answerable"] and not all(p["relevant"] for p in r.get("parts", []))
    )
    print(f"\nprompt-injection items: ja {inj['ja']}, en {inj['en']}")
    print(f"compound questions with partial coverage: {compound_partial}")
    print(f"English questions marked as corresponding to a Japanese one: {paired} of {per_lang['en']}")
    choices = Counter((r["expected_choice"] or "null") for r in rows if r["answerable"])
    print("expected_choice over answerable questions:", dict(sorted(choices.items())))
    print(f"distinct seed rows cited: {len({x for r in rows for x in r['relevant']})} of {len(refs)}")

    for lang in LANGS:
        n = per_lang[lang]
        if n < MIN_PER_LANG:
            errors.append(f"{lang}: {n} questions, need at least {MIN_PER_LANG}")
        for k, target in TARGET_SHARE.items():
            share = sum(by[(lang, k, a)] for a in (True, False)) / max(n, 1)
            if abs(share - target) > SHARE_TOLERANCE:
                errors.append(f"{lang}: {k} share {share:.0%} is far from the target {target:.0%}")
        u = sum(by[(lang, k, False)] for k in KINDS) / max(n, 1)
        if not UNANSWERABLE_RANGE[0] <= u <= UNANSWERABLE_RANGE[1]:
            errors.append(f"{lang}: unanswerable share {u:.0%} outside {UNANSWERABLE_RANGE}")
        if inj[lang] < 2:
            errors.append(f"{lang}: needs a few prompt-injection items")
    if paired > MAX_EN_PAIRED * per_lang["en"]:
        errors.append(f"too many English questions correspond to Japanese ones ({paired})")

    for w in warnings:
        print("warning:", w)
    if errors:
        print(f"\nFAILED: {len(errors)} error(s)")
        for e in errors:
            print("  ", e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
