"""Each protocol against the reference script it reproduces, on random cases with ties and exact-threshold IoUs.

    python benchmarks/compare_references.py --lavdf DIR --actionformer DIR --ummaformer DIR [--cases 60]

DIR is a checkout of ControlNet/LAV-DF, happyharrycn/actionformer_release or ymhzyj/UMMAFormer, or
its bare git directory (files are then read with ``git show HEAD:path``). The reference code is
imported from there at run time and never copied into avforge; a reference that is not given or
not found is skipped with a message. Pairs compared:

* ``lavdf``       vs LAV-DF ``metrics.py`` ``AP``/``AR`` as its ``evaluate.py`` calls them (frame indices
  at 25 fps). That script crashes on fake videos with fewer than 100 proposals and on empty lists,
  so its cases give every fake video 100-130 proposals and every video at least one.
* ``activitynet`` vs ActionFormer ``libs/utils/metrics.py`` ``ANETdetection`` (AP only: its AR is avforge's).
* ``ummaformer``  vs UMMAFormer ``libs/utils/Evaluation``: ``detection_thread`` writes the results
  file (first 100 proposals per video), videos in prediction-file order (its ``post_process_multi``
  iterates a ``set()``, whose order depends on the hash seed); then ``eval_detection.ANETdetection``
  and ``eval_proposal.ANETproposal`` (budget 100) as its ``eval.py`` calls them. It crashes on a
  fake video without proposals, so its cases give every fake video at least one.

Prints, per pair, the cases compared and the largest |avforge - reference| over all numbers; exit
status 1 when one exceeds 1e-6. ``--golden PATH`` also writes the small golden cases that
tests/eval/test_activitynet.py stores (inputs and the references' numbers).
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")
np.float, np.int = float, int  # removed from numpy 1.24 and 2.0; the reference scripts still use them
np.trapz = getattr(np, "trapz", None) or np.trapezoid

from avforge.eval.protocols import LINSPACE_50_95, PROTOCOLS, evaluate  # noqa: E402

TOLERANCE = 1e-6
FILES = {"lavdf": ["metrics.py", "utils.py"],
         "actionformer": ["libs/utils/metrics.py"],
         "ummaformer": [f"libs/utils/Evaluation/{m}.py" for m in ("utils", "eval_detection", "eval_proposal", "eval")]}


# ---------------------------------------------------------------- loading the reference code

def materialise(repo: str | None, name: str, work: Path) -> Path | None:
    """A directory holding the reference files (the checkout itself, or files read from its git dir)."""
    if not repo:
        print(f"{name}: skipped (no --{name} path given)")
        return None
    root = Path(repo)
    if all((root / f).is_file() for f in FILES[name]):
        return root
    out = work / name
    try:
        for f in FILES[name]:
            text = subprocess.run(["git", "--git-dir", str(root), "show", f"HEAD:{f}"], check=True,
                                  capture_output=True, text=True).stdout
            (out / f).parent.mkdir(parents=True, exist_ok=True)
            (out / f).write_text(text)
    except (subprocess.CalledProcessError, FileNotFoundError):
        print(f"{name}: skipped ({repo} is neither a checkout nor a git directory holding {FILES[name]})")
        return None
    return out


def load_file(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_lavdf(root: Path):
    """LAV-DF metrics.py with its two imports: ``utils.iou_1d`` (that function alone: the rest of
    utils.py needs torchvision and lightning) and ``dataset.lavdf.Metadata`` (a type hint only)."""
    import torch
    tree = ast.parse((root / "utils.py").read_text())
    iou = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "iou_1d")
    utils = types.ModuleType("utils")
    utils.__dict__.update(torch=torch, np=np, Tensor=torch.Tensor)
    exec(compile(ast.Module(body=[iou], type_ignores=[]), str(root / "utils.py"), "exec"), utils.__dict__)
    dataset, lavdf = types.ModuleType("dataset"), types.ModuleType("dataset.lavdf")
    lavdf.Metadata = object
    sys.modules.update({"utils": utils, "dataset": dataset, "dataset.lavdf": lavdf})
    return load_file("lavdf_metrics", root / "metrics.py")


def load_ummaformer(root: Path):
    """The Evaluation package under a bare ``libs.utils`` (its real __init__ pulls in the model code)."""
    for pkg, sub in (("libs", "libs"), ("libs.utils", "libs/utils"), ("libs.utils.Evaluation", "libs/utils/Evaluation")):
        module = types.ModuleType(pkg)
        module.__path__ = [str(root / sub)]
        sys.modules[pkg] = module
    import importlib
    return {m: importlib.import_module(f"libs.utils.Evaluation.{m}") for m in ("eval_detection", "eval_proposal", "eval")}


# ---------------------------------------------------------------- random cases

def make_case(rng: np.random.Generator, n_videos: int, *, min_fake: int = 0, min_any: int = 0,
              max_props: int = 150, tie_decimals: int = 1) -> tuple[list[dict], dict]:
    """LAV-DF-style metadata (seconds on the 25 fps grid) and predictions in seconds.

    Times are whole frames / 25, so many IoUs are small-integer ratios (1/2, 3/4, 9/10...) that land
    on a threshold and round either way; scores have ``tie_decimals`` decimals, so ties are common;
    some proposals are exact copies of others.
    """
    records, preds = [], {}
    for v in range(n_videos):
        frames = int(rng.integers(75, 300))
        fake = v == 0 or rng.random() < 0.65
        segs = []
        if fake:
            cuts = np.sort(rng.choice(np.arange(2, frames - 2), size=2 * int(rng.integers(1, 4)), replace=False))
            segs = [[int(a), int(b)] for a, b in cuts.reshape(-1, 2)]
        n = int(rng.integers(max(min_any, min_fake if fake else 0), max_props + 1))
        rows = []
        for _ in range(n):
            if segs and rng.random() < 0.6:
                a, b = segs[int(rng.integers(len(segs)))]
                length = b - a
                a, b = a + int(rng.integers(-length // 2, length // 2 + 1)), b + int(rng.integers(-length // 2, length // 2 + 1))
            else:
                a = int(rng.integers(0, frames - 1))
                b = a + int(rng.integers(1, 40))
            a, b = max(a, 0), max(b, max(a, 0) + 1)
            rows.append([round(float(rng.random()), tie_decimals), a / 25, b / 25])
            if rows and rng.random() < 0.05:
                rows.append(list(rows[int(rng.integers(len(rows)))]))
        preds[f"v{v:03d}.mp4"] = rows[:n]
        records.append({"file": f"v{v:03d}.mp4", "split": "test", "n_fakes": len(segs), "duration": frames / 25,
                        "fake_periods": [[a / 25, b / 25] for a, b in segs]})
    return records, preds


# ---------------------------------------------------------------- running a reference

def run_lavdf(ref, records, preds) -> dict:
    meta = [types.SimpleNamespace(file=r["file"], fake_periods=r["fake_periods"]) for r in records]
    frames = {f: [[s, a * 25, b * 25] for s, a, b in rows] for f, rows in preds.items()}
    ap = ref.AP(iou_thresholds=[0.5, 0.75, 0.95])(meta, frames)
    ar = ref.AR([100, 50, 20, 10], iou_thresholds=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])(meta, frames)
    return {"ap": {k: float(v) for k, v in ap.items()}, "ar": {int(k): float(v) for k, v in ar.items()}}


def run_actionformer(ref, records, preds, work: Path) -> dict:
    database = {r["file"]: {"subset": "test", "annotations": [{"segment": s, "label_id": 0} for s in r["fake_periods"]]}
                for r in records}
    gt = work / "actionformer_gt.json"
    gt.write_text(json.dumps({"database": database}))
    rows = [(f, s, a, b) for f, props in preds.items() for s, a, b in props]
    df = pd.DataFrame({"video-id": [r[0] for r in rows], "t-start": [r[2] for r in rows],
                       "t-end": [r[3] for r in rows], "label": [0] * len(rows), "score": [r[1] for r in rows]})
    thresholds = PROTOCOLS["activitynet"].ap_iou_thresholds
    evaluator = ref.ANETdetection(str(gt), split="test", tiou_thresholds=np.array(thresholds), num_workers=1)
    m_ap, _, _ = evaluator.evaluate(df, verbose=False)
    return {"ap": dict(zip(thresholds, map(float, m_ap)))}


def run_ummaformer(ref, records, preds, work: Path) -> dict:
    rows = [(f[:-4], s, a, b) for f, props in preds.items() for s, a, b in props]
    pred_data = pd.DataFrame({"video_name": [r[0] for r in rows], "xmin": [r[2] for r in rows],
                              "xmax": [r[3] for r in rows], "label": [0] * len(rows), "score": [r[1] for r in rows]})
    results = {}
    for vid in dict.fromkeys(pred_data.video_name):  # file order instead of its set() order
        results.update(ref["eval"].detection_thread(vid, pred_data, {vid: [1, 1]}))
    out = work / "ummaformer_results.json"
    out.write_text(json.dumps({"version": "ANET v1.3, Lavdf", "results": results, "external_data": {}}))
    gt = work / "ummaformer_gt.json"
    gt.write_text(json.dumps(records))
    tious = np.linspace(0.5, 0.95, 10)
    det = ref["eval_detection"].ANETdetection(ground_truth_filename=str(gt), prediction_filename=str(out),
                                              tiou_thresholds=tious, subset="test")
    det.evaluate()
    prop = ref["eval_proposal"].ANETproposal(str(gt), str(out), tiou_thresholds=tious, max_avg_nr_proposals=100,
                                             subset="test")
    prop.evaluate()
    return {"ap": {round(float(t), 2): float(v) for t, v in zip(tious, det.mAP)},
            "ar": {an: float(np.mean(prop.recall[:, an - 1])) for an in (100, 50, 20, 10)}}


def ours(protocol: str, records, preds) -> dict:
    if protocol == "lavdf":
        preds = {f: [[s, a * 25, b * 25] for s, a, b in rows] for f, rows in preds.items()}
    report = evaluate(preds, records, protocol)
    return {"ap": report.ap, "ar": report.ar}


def largest_difference(a: dict, b: dict) -> float:
    """max |a - b| over the numbers ``b`` has (NaN equal to NaN)."""
    worst = 0.0
    for kind, values in b.items():
        for key, ref in values.items():
            got = a[kind][key]
            if not (np.isnan(got) and np.isnan(ref)):
                worst = max(worst, abs(got - ref))
    return worst


# ---------------------------------------------------------------- main

CASE_KW = {"lavdf": {"min_fake": 100, "min_any": 1, "max_props": 130},
           "activitynet": {},
           "ummaformer": {"min_fake": 1}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in FILES:
        parser.add_argument(f"--{name}", metavar="DIR", help=f"checkout or git dir of the {name} reference")
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--golden", metavar="JSON", help="also write golden cases (inputs + reference numbers)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="avforge_refs_"))
    runners = {}
    for name, protocol, load, run in (
            ("lavdf", "lavdf", load_lavdf, lambda ref, r, p: run_lavdf(ref, r, p)),
            ("actionformer", "activitynet", lambda d: load_file("actionformer_metrics", d / "libs/utils/metrics.py"),
             lambda ref, r, p: run_actionformer(ref, r, p, work)),
            ("ummaformer", "ummaformer", load_ummaformer, lambda ref, r, p: run_ummaformer(ref, r, p, work))):
        root = materialise(getattr(args, name), name, work)
        if root is not None:
            ref = load(root)
            runners[protocol] = lambda r, p, ref=ref, run=run: run(ref, r, p)
    failed = False
    for protocol, run in runners.items():
        rng = np.random.default_rng([args.seed, list(PROTOCOLS).index(protocol)])
        worst, n_rows, n_videos = 0.0, 0, 0
        for _ in range(args.cases):
            records, preds = make_case(rng, int(rng.integers(2, 40)), **CASE_KW[protocol])
            worst = max(worst, largest_difference(ours(protocol, records, preds), run(records, preds)))
            n_rows += sum(map(len, preds.values()))
            n_videos += len(records)
        failed |= worst > TOLERANCE
        print(f"{protocol:12s} {args.cases} cases, {n_videos} videos, {n_rows} proposals: "
              f"max |avforge - reference| = {worst:.3g} ({'ok' if worst <= TOLERANCE else 'FAIL'})")
    if args.golden:
        write_golden(Path(args.golden), runners)
    return 1 if failed else 0


def write_golden(path: Path, runners: dict) -> None:
    """Small cases for the tests: the hand-made ones of golden_inputs() and one random case per protocol
    with distinct scores (tie order beyond 3 equal scores is numpy's and may vary by machine)."""
    cases = []
    for name, protocol, records, preds in golden_inputs():
        if protocol in runners:
            cases.append({"name": name, "protocol": protocol, "metadata": records, "predictions": preds,
                          "expected": runners[protocol](records, preds)})
    path.write_text("[\n" + ",\n".join(json.dumps(c) for c in cases) + "\n]\n")
    print(f"wrote {len(cases)} golden cases to {path}")


def golden_inputs():
    """(name, protocol, metadata, predictions) of the golden cases."""
    def meta(file, segs, duration=10.0):
        return {"file": file, "split": "test", "n_fakes": len(segs), "duration": duration, "fake_periods": segs}
    for protocol in ("activitynet", "ummaformer"):
        # the issue's exact-threshold pair: (len_g + len_p - inter) gives IoU 0.5, the span 0.49999999999999994
        yield ("iou_sum_union_on_threshold", protocol, [meta("a.mp4", [[0.36, 0.80]])],
               {"a.mp4": [[0.9, 0.32, 0.60]]})
        # tied scores: argsort()[::-1] puts the later proposal (a false positive) first
        yield ("tied_scores_reverse_file_order", protocol, [meta("a.mp4", [[0.0, 1.0]])],
               {"a.mp4": [[0.5, 0.0, 1.0], [0.5, 5.0, 6.0]]})
        # [0, 2] has IoU 0.5 with both segments and takes the later one (argsort()[::-1] on IoUs),
        # which leaves [0, 1] free for the next proposal: two true positives
        yield ("tied_iou_takes_later_segment", protocol, [meta("a.mp4", [[0.0, 1.0], [1.0, 2.0]])],
               {"a.mp4": [[0.9, 0.0, 2.0], [0.8, 0.0, 1.0]]})
    # linspace's 0.8999999999999999: IoU 0.9 - 1e-12 passes it, not 0.9
    yield ("linspace_0_9", "ummaformer", [meta("a.mp4", [[0.0, 1.0]])], {"a.mp4": [[0.9, 0.0, 0.8999999999999]]})
    yield ("linspace_0_9", "activitynet", [meta("a.mp4", [[0.0, 1.0]])], {"a.mp4": [[0.9, 0.0, 0.8999999999999]]})
    # ActionFormer drops a duplicated and a too-short ground-truth segment
    yield ("duplicate_and_short_segments", "activitynet",
           [meta("a.mp4", [[1.0, 2.0], [1.0005, 2.0005], [3.0, 3.0005]])], {"a.mp4": [[0.9, 1.0, 2.0]]})
    # UMMAFormer keeps the first 100 proposals in file order; AR@AN budget over fake and real videos
    first = [[0.99, 8.0, 9.0]] * 99 + [[0.1, 0.0, 2.0]]  # the 100th has IoU 0.5, the 101st (dropped) 1
    yield ("cap_first_100_in_file_order", "ummaformer", [meta("a.mp4", [[0.0, 1.0]]), meta("b.mp4", [])],
           {"a.mp4": first + [[0.5, 0.0, 1.0]], "b.mp4": [[0.3, 0.0, 1.0]] * 30})
    uneven = {"a.mp4": [[0.9 - 0.01 * i, 0.1 * i, 0.1 * i + 1.0] for i in range(40)],
              "b.mp4": [[0.95, 3.0, 4.0], [0.2, 0.0, 1.0]], "c.mp4": [[0.4, 0.0, 2.0]] * 3}
    yield ("an_budget_uneven_counts", "ummaformer",
           [meta("a.mp4", [[0.0, 1.0], [2.0, 3.0]]), meta("b.mp4", [[0.0, 1.0]]), meta("c.mp4", [])], uneven)
    for protocol, seed in (("activitynet", 11), ("ummaformer", 12), ("lavdf", 13)):
        kw = CASE_KW[protocol] if protocol == "lavdf" else {**CASE_KW[protocol], "max_props": 40}
        records, preds = make_case(np.random.default_rng(seed), 5 if protocol == "lavdf" else 10, tie_decimals=12, **kw)
        yield ("random_distinct_scores", protocol, records, preds)


if __name__ == "__main__":
    sys.exit(main())
