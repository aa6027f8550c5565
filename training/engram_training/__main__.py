"""`python -m engram_training STAGE ...`: one stage of the pipeline, or `all` of them in order.

    python -m engram_training all --budget cpu-2h      # corpus → qa → tokenizer → compressor → gate → reader → eval
    python -m engram_training reader --budget gpu-15m  # data, train (resumes), eval, export
    python -m engram_training eval --model ../models/reader-0.2.0 --sizes 8k,32k --per-size 12

Stages skip what is already complete with the same settings (markers in <data>/stages/);
--force runs a stage again. Run in training/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .pipeline import BUDGETS, REPO_ROOT, STAGES, Pipeline, run_stages


def _csv(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", choices=sorted(BUDGETS), default="cpu-2h",
                   help="training seconds, model sizes and question counts (tiny: for tests)")
    p.add_argument("--data", type=Path, default=Path(".data"), help="data and runs (default .data)")
    p.add_argument("--models", type=Path, default=Path("../models"), help="where models are exported")
    p.add_argument("--parity", default=str(REPO_ROOT / "test" / "fixtures" / "tokenizer-parity.json"),
                   help="tokenizer parity fixture to write ('none': do not write one)")
    p.add_argument("--reader-version", default="0.2.0", help="exported as MODELS/reader-VERSION")
    p.add_argument("--gate-export", choices=("auto", "always", "never"), default="auto",
                   help="auto: export the gate only if it ranks better than BM25 on test (recall@8)")
    p.add_argument("--compressor-version", default="0.1.0", help="exported as MODELS/engram-compressor-VERSION")
    p.add_argument("--compressor-export", choices=("auto", "always", "never"), default="auto",
                   help="auto: export the compressor only if it keeps more test evidence than the shipped one, "
                        "as a new version (never over a shipped one); always: into --compressor-version")
    p.add_argument("--device", default=None, help="training device (default: the budget's, auto = cuda if present)")
    p.add_argument("--npm-registry", default=None)
    p.add_argument("--pypi-base", default=None)
    p.add_argument("--only-packages", nargs="*", default=[], help="corpus: fetch only these repo ids or names")
    p.add_argument("--eval-model", type=Path, default=None,
                   help="eval stage: this reader instead of the one the pipeline exports")
    p.add_argument("--force", action="store_true", help="run the stage(s) even if complete")


def _pipeline(a: argparse.Namespace, skip: tuple[str, ...] = ()) -> Pipeline:
    from dataclasses import replace
    b = BUDGETS[a.budget]
    if a.device:
        b = replace(b, gate=replace(b.gate, device=a.device), reader=replace(b.reader, device=a.device),
                    compressor=replace(b.compressor, device=a.device))
    return Pipeline(budget=b, data=a.data, models=a.models,
                    parity=None if a.parity in ("", "none") else Path(a.parity), reader_version=a.reader_version,
                    gate_export=a.gate_export, compressor_version=a.compressor_version,
                    compressor_export=a.compressor_export, npm_registry=a.npm_registry, pypi_base=a.pypi_base,
                    only_packages=a.only_packages, eval_model=a.eval_model, force=a.force, skip=skip)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for stage in STAGES[:-1]:
        _common(sub.add_parser(stage, help=f"the {stage} stage"))
    al = sub.add_parser("all", help="every stage in order, skipping complete ones")
    _common(al)
    al.add_argument("--skip", default="", help="stages not to run, comma-separated; their outputs must exist "
                                               "(e.g. corpus, to use a corpus fetched elsewhere)")
    ev = sub.add_parser("eval", help="the real engine on held-out QA contexts: accuracy by kind, citations, speed")
    ev.add_argument("--model", type=Path, default=Path("../models/reader-0.2.0"))
    ev.add_argument("--sizes", default="8k,32k,128k")
    ev.add_argument("--per-size", type=int, default=24, help="questions per size, balanced by kind")
    ev.add_argument("--modes", default="gated,memagent")
    ev.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    ev.add_argument("--qa", type=Path, default=Path(".data/qa"))
    ev.add_argument("--split", default="test")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", type=Path, default=Path(".data/eval"))
    ev.add_argument("--gate", default=None, help="the engine's gate: none (recall ranking) or a gate folder "
                                                 "(default: the installed one)")
    ev.add_argument("--compressor", default=None, help="the engine's compressor: the installed compressor model (default), "
                                                       "structural, or a compressor model's name or folder")
    ev.add_argument("--phrasing", choices=("template", "natural", "heldout", "heldout2"), default="template",
                    help="natural: the questions reworded in plain words, without backticks (accuracy by wording in the "
                         "report); heldout, heldout2: other wordings, written after the engine's rules, to measure how far they "
                         "generalize (see training/README)")
    sf = sub.add_parser("simulate-feedback", help="a simulated user's feedback file from an eval report "
                                                   "(to measure fine-tuning from feedback before users give any)")
    sf.add_argument("report", type=Path, help="report.json of `eval` (validation questions: test stays held out)")
    sf.add_argument("--out", type=Path, required=True, help="the feedback file to write (JSONL)")
    ft = sub.add_parser("finetune-from-feedback", help="the shipped reader fine-tuned on a feedback file, "
                                                        "written beside it as a new version")
    ft.add_argument("feedback", type=Path, help="the engine's feedback file (JSONL)")
    ft.add_argument("--base", type=Path, default=None, help="the reader to start from (default: the manifest's)")
    ft.add_argument("--version", default=None, help="the new version (default: the base's next free patch)")
    ft.add_argument("--models", type=Path, default=Path("../models"))
    ft.add_argument("--base-run", type=Path, default=None,
                    help="the base's training run (train.json, model.pt or model.part*.pt); default: the run "
                         "under --data whose outputs match the base's ONNX")
    ft.add_argument("--data", type=Path, default=Path(".data"), help="runs to search, and where the run is written")
    ft.add_argument("--heldout", type=Path, default=None,
                    help="reader data of the base (validation.jsonl, test.jsonl; train.npz for replay)")
    ft.add_argument("--workspace", type=Path, default=None,
                    help="read cited files here instead of the workspace each record names")
    ft.add_argument("--steps", type=int, default=200)
    ft.add_argument("--batch-size", type=int, default=32)
    ft.add_argument("--lr", type=float, default=1e-4)
    ft.add_argument("--replay-ratio", type=float, default=3.0, help="replay windows per feedback window (0: none)")
    ft.add_argument("--eval-limit", type=int, default=None, help="held-out rows per split (default: all)")
    ft.add_argument("--budget-s", type=float, default=3600.0)
    ft.add_argument("--device", default="auto")
    ft.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.cmd == "finetune-from-feedback":
        from .finetune import FinetuneError, FinetuneSettings, finetune_from_feedback
        if a.steps < 1 or a.batch_size < 1:
            ap.error("--steps and --batch-size must be at least 1")
        s = FinetuneSettings(steps=a.steps, batch_size=a.batch_size, lr=a.lr, replay_ratio=a.replay_ratio,
                             device=a.device, seed=a.seed, budget_s=a.budget_s, eval_limit=a.eval_limit)
        try:
            res = finetune_from_feedback(a.feedback, a.models, a.base, a.version, a.base_run, a.data, a.heldout,
                                         a.workspace, s)
        except FinetuneError as e:
            print(f"finetune-from-feedback: {e}", file=sys.stderr)
            return 1
        print(json.dumps(res))
        return 0
    if a.cmd == "simulate-feedback":
        from .simulate_feedback import simulate
        if not a.report.exists():
            ap.error(f"no eval report at {a.report} (run: python -m engram_training eval --split validation --out DIR)")
        print(json.dumps(simulate(a.report, a.out)))
        return 0
    if a.cmd == "eval":
        from .evaluate import EvalSettings, run_eval
        if a.per_size < 1:
            ap.error("--per-size must be at least 1")
        modes = _csv(a.modes)
        bad = [m for m in modes if m not in ("gated", "memagent", "full", "rag")]
        if bad:
            ap.error(f"unknown mode(s): {', '.join(bad)} (gated, memagent, full, rag)")
        qa_file = a.qa / a.split / "qa.jsonl"
        if not qa_file.exists():
            ap.error(f"no QA at {qa_file} (run: python -m engram_training qa)")
        s = EvalSettings(sizes=_csv(a.sizes), per_size=a.per_size, modes=modes, seed=a.seed, split=a.split,
                         gate=a.gate, compressor=a.compressor, phrasing=a.phrasing)
        run_eval(a.corpus, a.qa, a.out, a.model, s)
        print(f"wrote {a.out / 'report.json'} and {a.out / 'report.md'}", file=sys.stderr)
        return 0
    if a.cmd == "all":
        report = run_stages(_pipeline(a, _csv(a.skip)), STAGES)
    else:
        report = run_stages(_pipeline(a), (a.cmd,))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
