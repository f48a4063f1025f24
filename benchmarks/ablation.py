"""Ablation of the default small config on the synthetic benchmark: one measured row per variant.

Every row trains the same config on the same data with the same budget, then runs predict ->
postprocess -> evaluate through the CLI (official avdeepfake1m evaluator, the held-out split) and
reports AP@0.5/0.75/0.95, AR@5, detection AUC, modality attribution accuracy, and AP@0.5 per
modify type (audio / visual / both, each scored together with the real videos), so that a
variant blind to one type cannot hide behind the average. Train time is wall seconds and the
CPU seconds of the training process (the latter is steadier on a shared machine).

    python benchmarks/ablation.py                       # all rows, exp/synthetic paths, test split
    python benchmarks/ablation.py --rows discrepancy bm --set train.epochs=10 --out ablation.json
    # trained on one generator, scored on another (same encoders): --test-* name the other data
    python benchmarks/ablation.py --rows concat_sync default --manifests exp/artefacts/manifests \
        --features exp/artefacts/features --test-manifests exp/mismatch/manifests \
        --test-features exp/mismatch/features --labels data/mismatch/hidden_labels/test_metadata.json
    # never shown a real forgery: trained on the real videos with pseudo-forgeries only
    python benchmarks/ablation.py --rows default --real-only --set train.epochs=75 --set data.splice_prob=0.7

Rows (model overrides on top of avforge/configs/synthetic_small.yaml; anchor-free head unless said):
  audio_only / visual_only   one stream only
  concat                     both streams, plain concatenation fusion
  discrepancy                both streams, cross-modal discrepancy fusion
  sync                       discrepancy fusion + lip-speech sync branch, pre-trained on real clips
  concat_sync                concatenation fusion + the same sync branch
  default                    concat_sync + pseudo-forgeries from splicing (data.splice_prob 0.5; the default config)
  bm                         discrepancy fusion with the BA-TFD boundary-matching head instead
Every row but ``default`` trains without pseudo-forgeries (data.splice_prob=0). Every row reads the
training videos' word timings when the recipe wrote them (``MANIFESTS/train.words.jsonl``: the
config's model.word_edges target; ``--set data.train_words=`` to change or drop them).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import orjson

from avforge.core.fileio import read_json, write_json

NO_SYNC = ["model.sync=false", "model.sync_pretrain_epochs=0", "model.w_sync=0", "data.splice_prob=0"]
SYNC = ["model.sync=true", "model.sync_pretrain_epochs=30", "model.w_sync=0.5"]
ROWS = {
    "audio_only": ("audio only", ["model.fusion=audio_only", *NO_SYNC]),
    "visual_only": ("visual only", ["model.fusion=visual_only", *NO_SYNC]),
    "concat": ("concatenation fusion", ["model.fusion=concat", *NO_SYNC]),
    "discrepancy": ("discrepancy fusion", ["model.fusion=discrepancy", *NO_SYNC]),
    "sync": ("discrepancy fusion + sync", ["model.fusion=discrepancy", *SYNC, "data.splice_prob=0"]),
    "concat_sync": ("concatenation fusion + sync", ["model.fusion=concat", *SYNC, "data.splice_prob=0"]),
    "default": ("concatenation + sync + splice = default", ["model.fusion=concat", *SYNC, "data.splice_prob=0.5"]),
    "bm": ("discrepancy fusion, BM head instead of anchor-free",
           ["model.fusion=discrepancy", "model.boundary_head=bm", *NO_SYNC]),
}
COLUMNS = (("AP@0.50", "AP@0.5"), ("AP@0.75", "AP@0.75"), ("AP@0.95", "AP@0.95"), ("AR@5", "AR@5"),
           ("AUC", "AUC"), ("attribution", "attribution"), ("audio_modified", "AP@0.5 audio"),
           ("visual_modified", "AP@0.5 visual"), ("both_modified", "AP@0.5 both"))


def _cli(*args: str, log: Path) -> None:
    """Run ``python -m avforge ARGS``; its output goes to ``log``; a failure stops the benchmark."""
    with open(log, "a") as out:
        out.write(f"$ avforge {' '.join(args)}\n")
        out.flush()
        done = subprocess.run([sys.executable, "-m", "avforge", *args], stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"avforge {args[0]} failed (exit {done.returncode}); see {log}")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_row(name: str, overrides: list[str], args) -> dict:
    """Train, predict, post-process and score one row; returns its metrics and train seconds."""
    row_dir = args.exp_root / name
    exp, raw, props = row_dir / "exp", row_dir / "raw", row_dir / "proposals" / f"{args.split}.json"
    log = row_dir / "log.txt"
    row_dir.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    train = real_only_manifests(args.manifests, args.exp_root) if args.real_only else args.manifests
    words = args.manifests / "train.words.jsonl"  # written by the recipe's stage 1
    sets = [f"data.train_manifest={train}/train.jsonl", f"data.val_manifest={train}/val.jsonl",
            f"data.visual_store={args.features}/visual", f"data.audio_store={args.features}/audio",
            *([f"data.train_words={words}"] if words.exists() else []), *overrides, *args.set]
    start, cpu0 = time.perf_counter(), _children_cpu_s()
    _cli("train", "--config", args.config, "--exp-dir", str(exp), *[a for s in sets for a in ("--set", s)], log=log)
    train_s, train_cpu_s = time.perf_counter() - start, _children_cpu_s() - cpu0
    test_manifests, test_features = args.test_manifests or args.manifests, args.test_features or args.features
    _cli("predict", "--checkpoint", str(exp), "--manifest", f"{test_manifests}/{args.split}.jsonl",
         "--visual-store", f"{test_features}/visual", "--audio-store", f"{test_features}/audio", "--out", str(raw),
         log=log)
    _cli("postprocess", "--raw", str(raw), "--out", str(props), log=log)
    metrics_path = row_dir / f"metrics_{args.split}.json"
    _cli("evaluate", "--pred", str(props), "--meta", str(args.labels), "--protocol", "avdeepfake1m",
         "--detection", str(props.with_name("video_scores.json")),
         "--modality", str(props.with_name(f"{args.split}.modality.json")), "--out", str(metrics_path), log=log)
    report = read_json(metrics_path)
    per_type = {t["modify_type"]: t["ap50"] for t in report.get("per_type") or ()}
    return {"row": ROWS[name][0], "overrides": overrides, "train_s": round(train_s, 1),
            "train_cpu_s": round(train_cpu_s, 1), "per_type": report.get("per_type"),
            "metrics": {key: report["metrics"].get(key, per_type.get(key)) for key, _ in COLUMNS},
            "attribution_matched": report["metrics"].get("attribution_matched"), "split": report["split"],
            "protocol": report["protocol"]}


def real_only_manifests(manifests: Path, root: Path) -> Path:
    """Copies of the train/val manifests holding their real videos only (in ``root``/real_only)."""
    out = root / "real_only"
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        lines = (manifests / f"{split}.jsonl").read_bytes().splitlines(keepends=True)
        real = [line for line in lines if line.strip() and orjson.loads(line).get("modify_type") == "real"]
        (out / f"{split}.jsonl").write_bytes(b"".join(real))
    return out


def markdown(results: list[dict], split: str, extra: list[str], data: str) -> str:
    head = "| variant | " + " | ".join(title for _, title in COLUMNS) + " | train s (CPU s) |"
    lines = [f"Data {data}, split {split}, official avdeepfake1m evaluator"
             + (f"; every row with {' '.join(extra)}" if extra else ""), "", head,
             "|" + "---|" * (len(COLUMNS) + 2)]
    for r in results:
        cells = ["-" if r["metrics"][k] is None else f"{r['metrics'][k]:.3f}" for k, _ in COLUMNS]
        lines.append(f"| {r['row']} | " + " | ".join(cells) + f" | {r['train_s']:.0f} ({r['train_cpu_s']:.0f}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    p.add_argument("--config", default="synthetic_small")
    p.add_argument("--manifests", type=Path, default=Path("exp/synthetic/manifests"))
    p.add_argument("--features", type=Path, default=Path("exp/synthetic/features"))
    p.add_argument("--split", default="test", help="manifest split to score (default test)")
    p.add_argument("--labels", type=Path, default=Path("data/synthetic/hidden_labels/test_metadata.json"),
                   help="labels of the scored split (of the --test-* data when given)")
    p.add_argument("--test-manifests", type=Path, help="score on another dataset's split (default: --manifests)")
    p.add_argument("--test-features", type=Path, help="its feature stores, same encoders (default: --features)")
    p.add_argument("--real-only", action="store_true", help="train on the real videos only: pseudo-forgeries "
                   "(data.splice_prob) are then the only forgeries a row sees (use it with --rows default)")
    p.add_argument("--data-name", default="", help="how the table names the data (default: the manifests folder)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override applied to every row (e.g. a reduced equal budget: train.epochs=10)")
    p.add_argument("--exp-root", type=Path, default=Path("exp/ablation"))
    p.add_argument("--out", type=Path, default=Path("exp/ablation/ablation.json"))
    args = p.parse_args(argv)
    results = []
    for name in args.rows:
        print(f"[{name}] training ...", flush=True)
        results.append(run_row(name, ROWS[name][1], args))
        print(f"[{name}] {results[-1]['metrics']} ({results[-1]['train_s']:.0f} s)", flush=True)
    scored_on = f", scored on {args.test_manifests}" if args.test_manifests else ""
    data = args.data_name or str(args.manifests) + (" (real videos only)" if args.real_only else "") + scored_on
    table = markdown(results, args.split, args.set, data)
    print(table)
    write_json(args.out, {"split": args.split, "evaluator": "avdeepfake1m (official-exact)", "config": args.config,
                          "common_overrides": args.set, "rows": results, "markdown": table}, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
