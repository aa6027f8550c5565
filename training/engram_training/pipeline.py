"""The whole training pipeline as stages with completion markers, run one at a time or all
in order (`python -m engram_training all --budget cpu-2h|gpu-15m|tiny`).

Each step writes `<data>/stages/<step>.json` when it finishes: its settings, the fingerprints
of the steps it read from, and its own fingerprint (a hash of both). A step whose marker
matches is skipped; when settings or inputs change it runs again, and so does everything
downstream. Training steps resume from their run's checkpoint (the trainers do that); a
checkpoint left by other settings is moved aside, never trained on.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

# The compressor comes before the gate: it needs only the QA and the tokenizer, and the gate and the
# reader's joint RL (reader_rl --joint-compressor) compare with or start from its run.
STAGES = ("corpus", "qa", "tokenizer", "compressor", "gate", "reader", "eval")
REPO_ROOT = Path(__file__).resolve().parents[2]

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- budgets


@dataclass(frozen=True)
class TrainSettings:
    budget_s: float
    epochs: float
    batch_size: int
    lr: float
    d_model: int
    layers: int
    heads: int
    device: str = "auto"


@dataclass(frozen=True)
class Budget:
    name: str
    qa: dict  # build_qa keyword arguments
    vocab: int
    gate_max_train: int
    gate_max_eval_q: int
    gate: TrainSettings
    reader_max_train_q: int
    reader_max_eval_q: int
    reader: TrainSettings
    reader_export_eval_limit: int | None
    eval_sizes: tuple[str, ...]
    eval_per_size: int
    eval_modes: tuple[str, ...] = ("gated", "memagent")
    seed: int = 0
    # The shipped compressor's run (training/README.md section 6); its size is held by the engine's
    # indexing speed (>= 1M tokens/min on 2 CPU cores), so a GPU budget buys epochs, not width.
    compressor: TrainSettings = TrainSettings(budget_s=720, epochs=6.0, batch_size=48, lr=2e-3, d_model=64, layers=2,
                                              heads=4)
    compressor_max_contexts: int | None = None


# cpu-2h and gpu-15m share the corpus, QA, tokenizer and reader data. Timings in training/README.md:
# on 2 CPU cores the gate scores ~20 candidates/s, so cpu-2h evaluates it on fewer questions.
_FULL_QA: dict = {"per_kind": 8, "max_contexts": 24}  # as the shipped models were trained
BUDGETS: dict[str, Budget] = {
    "cpu-2h": Budget(
        name="cpu-2h", qa=_FULL_QA, vocab=12000, gate_max_train=60000, gate_max_eval_q=120,
        gate=TrainSettings(budget_s=600, epochs=3.0, batch_size=64, lr=5e-4, d_model=128, layers=4, heads=4),
        reader_max_train_q=100000, reader_max_eval_q=500,
        reader=TrainSettings(budget_s=2700, epochs=20.0, batch_size=64, lr=5e-4, d_model=192, layers=6, heads=6),
        reader_export_eval_limit=None, eval_sizes=("8k", "32k", "128k"), eval_per_size=12),
    "gpu-15m": Budget(
        name="gpu-15m", qa=_FULL_QA, vocab=12000, gate_max_train=60000, gate_max_eval_q=600,
        gate=TrainSettings(budget_s=150, epochs=8.0, batch_size=128, lr=1e-3, d_model=128, layers=4, heads=4),
        reader_max_train_q=100000, reader_max_eval_q=500,
        # 3 epochs: longer runs memorise the training questions (models/reader-0.2.0/README.md)
        reader=TrainSettings(budget_s=420, epochs=3.0, batch_size=128, lr=8e-4, d_model=192, layers=6, heads=6),
        reader_export_eval_limit=None, eval_sizes=("8k", "32k"), eval_per_size=12,
        compressor=TrainSettings(budget_s=180, epochs=20.0, batch_size=128, lr=2e-3, d_model=64, layers=2, heads=4)),
    # For tests: a toy corpus, models of a few thousand parameters, seconds per step.
    "tiny": Budget(
        name="tiny", qa={"per_kind": 4, "max_contexts": 24, "train_range": (600, 1500), "eval_sizes": {"1k": 1000}},
        vocab=600, gate_max_train=60000, gate_max_eval_q=16,
        gate=TrainSettings(budget_s=20, epochs=0.1, batch_size=16, lr=5e-4, d_model=32, layers=1, heads=2, device="cpu"),
        reader_max_train_q=100000, reader_max_eval_q=40,
        reader=TrainSettings(budget_s=20, epochs=0.2, batch_size=16, lr=5e-4, d_model=32, layers=1, heads=2, device="cpu"),
        reader_export_eval_limit=20, eval_sizes=("1k",), eval_per_size=6,
        compressor=TrainSettings(budget_s=20, epochs=0.5, batch_size=8, lr=2e-3, d_model=32, layers=1, heads=2,
                                 device="cpu")),
}


# ---------------------------------------------------------------- paths and options


@dataclass
class Pipeline:
    """Where every stage reads and writes, and the choices that are not part of a budget."""
    budget: Budget
    data: Path = Path(".data")
    models: Path = Path("../models")
    parity: Path | None = REPO_ROOT / "test" / "fixtures" / "tokenizer-parity.json"
    reader_version: str = "0.2.0"
    gate_export: str = "auto"  # auto: only when the gate ranks better than BM25 on test
    compressor_version: str = "0.1.0"
    compressor_export: str = "auto"  # auto: only when better than the shipped one, as a new version
    npm_registry: str | None = None
    pypi_base: str | None = None
    only_packages: list[str] = field(default_factory=list)
    eval_model: Path | None = None  # default: the reader this pipeline exports
    force: bool = False
    skip: tuple[str, ...] = ()
    log: Log = _stderr

    corpus = property(lambda s: s.data / "corpus")
    qa = property(lambda s: s.data / "qa")
    compressor_data = property(lambda s: s.data / "compressor")
    compressor_run = property(lambda s: s.data / "compressor" / "run")
    gate_data = property(lambda s: s.data / "gate")
    gate_run = property(lambda s: s.data / "gate" / "run")
    feature_gate_data = property(lambda s: s.data / "feature-gate")
    feature_gate_run = property(lambda s: s.data / "feature-gate" / "run")
    reader_data = property(lambda s: s.data / "reader")
    reader_run = property(lambda s: s.data / "reader" / "run")
    eval_out = property(lambda s: s.data / "eval")
    tokenizer_dir = property(lambda s: s.models / "engram-tokenizer")
    manifest = property(lambda s: s.models / "manifest.json")
    reader_dir = property(lambda s: s.models / f"reader-{s.reader_version}")


# ---------------------------------------------------------------- markers


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


class Steps:
    """Markers under `<data>/stages/`, and the fingerprints steps hand downstream."""

    def __init__(self, p: Pipeline) -> None:
        self.p = p
        self.dir = p.data / "stages"
        self.prints: dict[str, str] = {}
        self.report: list[dict] = []

    def marker(self, step: str) -> Path:
        return self.dir / f"{step}.json"

    def run(self, step: str, settings: dict, inputs: list[str], outputs: list[Path], fn: Callable[[], object],
            force: bool = False) -> str:
        """Runs `fn` unless a marker with the same settings and inputs exists and every output is there.

        A step that runs gets a new fingerprint (its key and finishing time), so every step
        downstream of it runs again; a skipped step hands on the fingerprint in its marker."""
        ins = {i: self.prints.get(i, "unknown") for i in inputs}  # unknown: made outside the pipeline
        key = _digest({"settings": settings, "inputs": ins})
        m = self.marker(step)
        old = json.loads(m.read_text()) if m.exists() else None
        done = bool(old and old.get("key") == key and all(o.exists() for o in outputs))
        if done and not force:
            assert old is not None
            self.p.log(f"== {step}: complete, skipped ({m})")
            self.prints[step] = old["fingerprint"]
            self.report.append({"step": step, "status": "skipped", "seconds": 0.0})
            return "skipped"
        if m.exists():
            m.unlink()  # a crash in fn must not leave the old marker claiming the new settings
        self.p.log(f"== {step}: running")
        t0 = time.time()
        result = fn()
        secs = round(time.time() - t0, 1)
        finished = time.strftime("%Y-%m-%dT%H:%M:%S")
        fp = _digest({"key": key, "finished": finished, "t": t0})
        self.dir.mkdir(parents=True, exist_ok=True)
        m.write_text(json.dumps({"step": step, "key": key, "fingerprint": fp, "settings": settings, "inputs": ins,
                                 "seconds": secs, "finished": finished,
                                 "result": result if isinstance(result, (dict, list, str, int, float)) else None},
                                indent=1, default=str) + "\n")
        self.prints[step] = fp
        self.report.append({"step": step, "status": "ran", "seconds": secs})
        self.p.log(f"== {step}: done in {secs:.0f}s")
        return "ran"

    def adopt(self, step: str, key_output: Path) -> None:
        """A skipped stage: its marker's fingerprint, or that of the output already there."""
        m = self.marker(step)
        if m.exists():
            self.prints[step] = json.loads(m.read_text())["fingerprint"]
        elif key_output.exists():
            self.prints[step] = "external:" + file_digest(key_output)
        else:
            raise SystemExit(f"stage {step} is skipped but {key_output} does not exist")
        self.p.log(f"== {step}: skipped on request (using {key_output})")
        self.report.append({"step": step, "status": "skipped (--skip)", "seconds": 0.0})


def _fresh_run(run: Path, ckpt_owner: str, p: Pipeline) -> None:
    """Keeps a checkpoint only if this step's settings wrote it; moves any other aside."""
    note = run / "pipeline.json"
    owner = json.loads(note.read_text()).get("owner") if note.exists() else None
    if (run / "ckpt.pt").exists() and owner != ckpt_owner:
        aside = run.with_name(f"{run.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
        run.rename(aside)
        p.log(f"   {run} held a checkpoint from other settings: moved to {aside}")
    run.mkdir(parents=True, exist_ok=True)
    note.write_text(json.dumps({"owner": ckpt_owner}) + "\n")


def _vocab_size(tokenizer_json: Path) -> int:
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(tokenizer_json)).get_vocab_size()


# ---------------------------------------------------------------- stages


def stage_corpus(s: Steps) -> None:
    from .corpus import NPM_REGISTRY, PACKAGES, PYPI_BASE, fetch_corpus
    p = s.p
    specs = [x for x in PACKAGES if not p.only_packages or x.name in p.only_packages or x.repo_id in p.only_packages]
    npm, pypi = p.npm_registry or NPM_REGISTRY, p.pypi_base or PYPI_BASE
    settings = {"packages": [x.repo_id for x in specs], "npm": npm, "pypi": pypi}
    s.run("corpus", settings, [], [p.corpus / "manifest.json"],
          lambda: {"repos": len(fetch_corpus(p.corpus, specs, npm, pypi, log=p.log)["repos"])}, p.force)


def stage_qa(s: Steps) -> None:
    from .qa.__main__ import build_qa
    p, b = s.p, s.p.budget
    settings = {**b.qa, "seed": b.seed}
    s.run("qa", settings, ["corpus"], [p.qa / sp / "qa.jsonl" for sp in ("train", "validation", "test")],
          lambda: build_qa(p.corpus, p.qa, seed=b.seed, log=p.log, **b.qa)["splits"], p.force)


def stage_tokenizer(s: Steps) -> None:
    from . import tokenizer
    p = s.p
    args = ["train", "--corpus", str(p.corpus), "--out", str(p.tokenizer_dir), "--vocab", str(p.budget.vocab)]
    if p.parity:
        args += ["--parity", str(p.parity)]
    outputs = [p.tokenizer_dir / "tokenizer.json"] + ([p.parity] if p.parity else [])
    s.run("tokenizer", {"vocab": p.budget.vocab, "parity": str(p.parity)}, ["corpus"], outputs,
          lambda: tokenizer.main(args), p.force)


def _train_step(s: Steps, model: str, t: TrainSettings, run: Path, output: Path, config_cls: type,
                ff_mult: int, train_fn: Callable[..., dict]) -> None:
    """`<model>-train`: trains `<model>-data` into `run` within the budget, resuming its checkpoint."""
    p = s.p
    settings = {**asdict(t), "seed": p.budget.seed}

    def train() -> dict:
        # The budget may grow between runs (training then resumes); anything else starts over.
        owner = _digest({"settings": {k: v for k, v in settings.items() if k != "budget_s"},
                         "data": s.prints.get(f"{model}-data")})
        _fresh_run(run, owner, p)
        cfg = config_cls(vocab_size=_vocab_size(p.tokenizer_dir / "tokenizer.json"), d_model=t.d_model,
                         layers=t.layers, heads=t.heads, ff=ff_mult * t.d_model)
        return train_fn(p.data / model, run, cfg, t.budget_s, t.epochs, t.batch_size, t.lr, p.budget.seed, t.device,
                        log=p.log)
    s.run(f"{model}-train", settings, [f"{model}-data"], [output], train, p.force)


def stage_compressor(s: Steps) -> None:
    from . import compressor
    p, b = s.p, s.p.budget
    tok = p.tokenizer_dir / "tokenizer.json"
    s.run("compressor-data", {"max_contexts": b.compressor_max_contexts}, ["qa", "tokenizer"],
          [p.compressor_data / f"{sp}.pkl" for sp in ("train", "validation", "test")],
          lambda: compressor.build_data(p.corpus, p.qa, p.compressor_data, tok, b.compressor_max_contexts), p.force)
    t = b.compressor
    _train_step(s, "compressor", t, p.compressor_run, p.compressor_run / "model.pt", compressor.CompressorConfig, 4,
                compressor.train)

    def evaluate() -> dict:
        ev = compressor.evaluate(p.compressor_data, p.compressor_run)  # writes run/eval.json
        return {"keep_threshold": ev["keep_threshold"], **{k: v for k, v in ev["test"].items() if k != "recall"},
                "recall@8": {n: r["recall@8"] for n, r in ev["test"]["recall"].items()}}
    s.run("compressor-eval", {}, ["compressor-train"], [p.compressor_run / "eval.json"], evaluate, p.force)
    s.run("compressor-export", {"policy": p.compressor_export, "version": p.compressor_version, "models": str(p.models)},
          ["compressor-eval"], [], lambda: export_compressor(p), p.force)


COMPRESSOR = "engram-compressor"


def shipped_compressor(p: Pipeline) -> Path | None:
    """The folder of the compressor models/manifest.json lists (the engine's default), if any."""
    if not p.manifest.exists():
        return None
    for m in json.loads(p.manifest.read_text()).get("models", []):
        if m.get("name") == COMPRESSOR and (p.models / m["path"] / "onnx" / "model.onnx").exists():
            return p.models / m["path"]
    return None


def free_version(models: Path, prefix: str, after: str) -> str:
    """The first patch version after `after` whose folder `<prefix>-<version>` is free."""
    major, minor, patch = (int(x) for x in after.split("."))
    k = patch + 1
    while (models / f"{prefix}-{major}.{minor}.{k}").exists():
        k += 1
    return f"{major}.{minor}.{k}"


def export_compressor(p: Pipeline) -> dict:
    """--compressor-export always: into engram-compressor-<version>; never: nothing; auto: when no
    compressor is shipped, into <version>; else only when it keeps more test evidence tokens at the
    same keep rate than the shipped one on this data, into a new version folder (a shipped version is
    never written over)."""
    from .compressor import evaluate, onnx_forward, publish
    policy = p.compressor_export
    if policy == "never":
        p.log("   compressor not exported (--compressor-export never)")
        return {"exported": False, "why": "never"}
    ours = json.loads((p.compressor_run / "eval.json").read_text())["test"]["evidence_tokens_kept"]
    version = p.compressor_version
    shipped = shipped_compressor(p) if policy == "auto" else None
    figures: dict = {"evidence_tokens_kept": ours}
    if shipped is not None:
        if file_digest(shipped / "tokenizer.json") != file_digest(p.tokenizer_dir / "tokenizer.json"):
            p.log(f"   compressor not exported: the shipped {shipped.name} reads another tokenizer, so the two cannot "
                  "be compared on this data (--compressor-export always exports anyway)")
            return {"exported": False, "why": "shipped compressor has another tokenizer", "shipped": shipped.name}
        theirs = evaluate(p.compressor_data, None, onnx_forward(shipped / "onnx" / "model.onnx"))["test"]["evidence_tokens_kept"]
        figures["shipped_evidence_tokens_kept"] = theirs
        if ours <= theirs:
            p.log(f"   compressor not exported: test evidence tokens kept {ours} vs {theirs} for the shipped {shipped.name}")
            return {"exported": False, "why": "not better than the shipped compressor", "shipped": shipped.name, **figures}
        listed = next(m["version"] for m in json.loads(p.manifest.read_text())["models"] if m.get("name") == COMPRESSOR)
        version = free_version(p.models, COMPRESSOR, max(listed, version, key=lambda v: tuple(map(int, v.split(".")))))
    out = p.models / f"{COMPRESSOR}-{version}"
    res = publish(p.compressor_data, p.compressor_run, out, p.tokenizer_dir, p.manifest, version)
    p.log(f"   compressor exported to {out} (ONNX parity fp32 {res['parity']['fp32']})")
    return {"exported": True, "out": str(out), "version": version, "parity": res["parity"], **figures}


def stage_gate(s: Steps) -> None:
    from . import gate
    from .publish import publish_gate
    p, b = s.p, s.p.budget
    tok = p.tokenizer_dir / "tokenizer.json"
    s.run("gate-data", {"max_train": b.gate_max_train, "max_eval_q": b.gate_max_eval_q, "seed": b.seed},
          ["qa", "tokenizer"],
          [p.gate_data / f"{sp}.npz" for sp in ("train", "validation", "test")],
          lambda: gate.build_data(p.corpus, p.qa, tok, p.gate_data, b.seed, b.gate_max_train,
                                  b.gate_max_eval_q, log=p.log), p.force)
    t = b.gate
    _train_step(s, "gate", t, p.gate_run, p.gate_run / "model.safetensors", gate.GateConfig, 3, gate.train)
    s.run("gate-eval", {"device": t.device}, ["gate-train"], [p.gate_run / "eval.json"],
          lambda: _gate_summary(gate.evaluate(p.gate_data, p.gate_run, t.device)), p.force)

    from . import feature_gate
    s.run("feature-gate-data", {"seed": b.seed}, ["qa"],
          [p.feature_gate_data / f"{sp}.npz" for sp in ("train", "validation", "test")],
          lambda: feature_gate.build_data(p.corpus, p.qa, p.feature_gate_data, b.seed, log=p.log), p.force)
    s.run("feature-gate-train", {"seed": b.seed}, ["feature-gate-data"], [p.feature_gate_run / "model.pt"],
          lambda: feature_gate.train(p.feature_gate_data, p.feature_gate_run, seed=b.seed, log=p.log), p.force)
    s.run("feature-gate-eval", {}, ["feature-gate-train"], [p.feature_gate_run / "eval.json"],
          lambda: {r: feature_gate.evaluate(p.feature_gate_data, p.feature_gate_run)["test"][r] for r in ("gate", "bm25")},
          p.force)

    def export() -> dict:
        """The better of the two gates ships (as `engram-gate` in the manifest), if it ranks above BM25."""
        ev = json.loads((p.gate_run / "eval.json").read_text())["test"]
        fev = json.loads((p.feature_gate_run / "eval.json").read_text())["test"]
        bm25 = ev["bm25"]["recall@8"]
        transformer, features = ev["gate"]["recall@8"], fev["gate"]["recall@8"]
        if p.gate_export == "never" or (p.gate_export == "auto" and max(transformer, features) <= bm25):
            p.log(f"   gate not exported (--gate-export {p.gate_export}; test recall@8 transformer gate {transformer}, "
                  f"feature gate {features}, BM25 {bm25})")
            return {"exported": False}
        if transformer > features:
            out = p.models / "engram-gate"
            publish_gate(p.gate_run, out, p.tokenizer_dir, p.manifest)
        else:
            out = p.models / f"engram-gate-{feature_gate.VERSION}"
            feature_gate.export(p.feature_gate_run, out, p.manifest)
        return {"exported": True, "out": str(out)}
    s.run("gate-export", {"policy": p.gate_export, "models": str(p.models)}, ["gate-eval", "feature-gate-eval"], [],
          export, p.force)


def _gate_summary(ev: dict) -> dict:
    return {r: ev["test"][r] for r in ("gate", "bm25", "gate+bm25")}


def stage_reader(s: Steps) -> None:
    from . import reader
    from .reader_publish import publish_reader
    p, b = s.p, s.p.budget
    tok = p.tokenizer_dir / "tokenizer.json"
    # the renaming of the shipped reader's data (identifiers and answers renamed in up to 2 copies)
    data_settings = {"max_train_q": b.reader_max_train_q, "max_eval_q": b.reader_max_eval_q, "seed": b.seed,
                     "rename_p": 0.8, "rename_copies": 2}
    s.run("reader-data", data_settings, ["qa", "tokenizer"],
          [p.reader_data / f for f in ("train.npz", "validation.jsonl", "test.jsonl")],
          lambda: reader.build_data(p.corpus, p.qa, tok, p.reader_data, b.seed, b.reader_max_train_q,
                                    b.reader_max_eval_q, rename_p=0.8, rename_copies=2, log=p.log), p.force)
    t = b.reader
    _train_step(s, "reader", t, p.reader_run, p.reader_run / "model.pt", reader.ReaderConfig, 4, reader.train)

    def evaluate() -> dict:
        res = reader.evaluate(p.reader_data, p.reader_run, tok, device=t.device)
        (p.reader_run / "eval.json").write_text(json.dumps(res, indent=1) + "\n")
        return res["test"]
    s.run("reader-eval", {"device": t.device}, ["reader-train"], [p.reader_run / "eval.json"], evaluate, p.force)
    s.run("reader-export", {"out": str(p.reader_dir), "version": p.reader_version,
                            "eval_limit": b.reader_export_eval_limit}, ["reader-eval"],
          [p.reader_dir / "onnx" / "model.onnx", p.reader_dir / "config.json"],
          lambda: publish_reader(p.reader_data, p.reader_run, p.reader_dir, p.tokenizer_dir, p.manifest,
                                 p.reader_version, eval_limit=b.reader_export_eval_limit)["test"], p.force)


def stage_eval(s: Steps) -> None:
    from .evaluate import EvalSettings, engine_path, run_eval
    p, b = s.p, s.p.budget
    model = p.eval_model or p.reader_dir
    es = EvalSettings(sizes=b.eval_sizes, per_size=b.eval_per_size, modes=b.eval_modes, seed=b.seed)
    onnx = model / "onnx" / "model.onnx"
    settings = {**asdict(es), "model": str(model),
                "model_digest": file_digest(onnx) if onnx.exists() else None,
                "engine_digest": file_digest(engine_path().parent.parent / "dist" / "cli.js")
                if (engine_path().parent.parent / "dist" / "cli.js").exists() else None}
    inputs = ["qa"] + (["reader-export"] if p.eval_model is None and "reader-export" in s.prints else [])
    s.run("eval", settings, inputs, [p.eval_out / "report.json", p.eval_out / "report.md"],
          lambda: run_eval(p.corpus, p.qa, p.eval_out, model, es, log=p.log)["summary"], p.force)


def _adopt_key(p: Pipeline, stage: str) -> Path:
    return {"corpus": p.corpus / "manifest.json", "qa": p.qa / "test" / "qa.jsonl",
            "tokenizer": p.tokenizer_dir / "tokenizer.json", "compressor": p.compressor_run / "model.pt",
            "gate": p.gate_data / "train.npz",
            "reader": p.reader_dir / "onnx" / "model.onnx", "eval": p.eval_out / "report.json"}[stage]


_ADOPT_STEPS = {"compressor": ["compressor-data", "compressor-train", "compressor-eval", "compressor-export"],
                "gate": ["gate-data", "gate-train", "gate-eval", "gate-export"],
                "reader": ["reader-data", "reader-train", "reader-eval", "reader-export"]}

RUNNERS: dict[str, Callable[[Steps], None]] = {
    "corpus": stage_corpus, "qa": stage_qa, "tokenizer": stage_tokenizer, "compressor": stage_compressor,
    "gate": stage_gate,
    "reader": stage_reader, "eval": stage_eval,
}


def _load_prints(s: Steps) -> None:
    """Fingerprints of steps already done, so a single stage can run after the ones before it."""
    if s.dir.exists():
        for m in s.dir.glob("*.json"):
            s.prints[m.stem] = json.loads(m.read_text())["fingerprint"]


NEEDS = {"qa": ("corpus",), "tokenizer": ("corpus",), "compressor": ("qa", "tokenizer"), "gate": ("qa", "tokenizer"), "reader": ("qa", "tokenizer"),
         "eval": ("qa",)}


def run_stages(p: Pipeline, stages: tuple[str, ...]) -> list[dict]:
    """Runs the given stages in pipeline order; returns one row per step (status, seconds)."""
    unknown = [x for x in stages + p.skip if x not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stage(s): {', '.join(unknown)} (stages: {', '.join(STAGES)})")
    for stage in stages:
        for need in NEEDS.get(stage, ()):
            if need not in stages and not _adopt_key(p, need).exists():
                raise SystemExit(f"stage {stage} needs {_adopt_key(p, need)}: run `python -m engram_training {need}` first")
    s = Steps(p)
    _load_prints(s)
    t0 = time.time()
    order = [x for x in STAGES if x in stages]
    for i, stage in enumerate(order, 1):
        p.log(f"[{i}/{len(order)}] {stage} (budget {p.budget.name})")
        if stage in p.skip:
            for step in _ADOPT_STEPS.get(stage, [stage]):
                if s.marker(step).exists():
                    s.prints[step] = json.loads(s.marker(step).read_text())["fingerprint"]
            s.adopt(stage, _adopt_key(p, stage))
            continue
        RUNNERS[stage](s)
    total = round(time.time() - t0, 1)
    p.log(summary_table(s.report, total))
    return s.report


def summary_table(report: list[dict], total: float) -> str:
    lines = ["", "step            status             seconds"]
    lines += [f"{r['step']:<15} {r['status']:<18} {r['seconds']:>7.1f}" for r in report]
    lines.append(f"{'total':<15} {'':<18} {total:>7.1f}")
    return "\n".join(lines)
