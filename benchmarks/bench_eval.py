"""Benchmark: avforge.eval.ap_ar_1d vs the official avdeepfake1m 0.0.4 Rust extension, same files.

    python benchmarks/bench_eval.py [--videos 100000] [--repeats 3]

Generates AV-Deepfake1M-like data (seeded): 3-20 s clips, ~30 % real, 0-3 short fake segments,
1-100 proposals per video sorted by score, rounded like submissions. Each run is a fresh subprocess
(alternating official / ours) that times the call alone (wall and CPU time over all threads) and
reports its peak RSS; the medians, the wall-time ratio and whether the numbers are identical are printed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import orjson

ARGS = ("file", "fake_segments", 1.0, [0.5, 0.75, 0.9, 0.95], [50, 30, 20, 10, 5],
        [0.5 + 0.05 * i for i in range(10)])


def generate(n_videos: int, seed: int = 0, max_proposals: int = 100) -> tuple[dict, list]:
    rng = np.random.default_rng(seed)
    pred, meta = {}, []
    for i in range(n_videos):
        file = f"{i:06d}.mp4"
        duration = float(rng.uniform(3, 20))
        n_seg = 0 if rng.random() < 0.3 else int(rng.integers(1, 4))
        lengths = rng.uniform(0.1, 0.6, n_seg)
        starts = rng.uniform(0, duration - lengths)
        segs = sorted([round(float(s), 2), round(float(s + l), 2)] for s, l in zip(starts, lengths))
        meta.append({"file": file, "split": "val", "modify_type": "visual_modified" if segs else "real",
                     "duration": round(duration, 3), "fake_segments": segs})
        k = int(rng.integers(1, max_proposals + 1))
        p_start, p_len = rng.uniform(0, duration - 0.1, k), rng.uniform(0.05, 1.0, k)
        if segs:  # half of the proposals near a true segment
            g = np.asarray(segs)[rng.integers(0, len(segs), k)]
            near = rng.random(k) < 0.5
            p_start = np.where(near, g[:, 0] + rng.normal(0, 0.05, k), p_start)
            p_len = np.where(near, g[:, 1] - g[:, 0] + rng.normal(0, 0.05, k), p_len)
        p_start = np.round(np.clip(p_start, 0, None), 2)
        p_end = np.maximum(np.round(p_start + np.clip(p_len, 0.02, None), 2), p_start + 0.01)
        scores = np.round(np.sort(rng.random(k))[::-1], 4)
        pred[file] = np.stack([scores, p_start, p_end], 1).tolist()
    return pred, meta


def load_official():
    import importlib.metadata
    import importlib.util

    dist = importlib.metadata.distribution("avdeepfake1m")
    so = next(f for f in dist.files if f.name.startswith("_evaluation."))
    spec = importlib.util.spec_from_file_location("_evaluation", dist.locate_file(so))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would include the parent before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(which: str, pred: str, meta: str) -> None:
    """One timed call in this process; prints JSON with wall and CPU seconds, peak RSS and the result."""
    import resource
    import time

    if which == "official":
        fn = load_official().ap_ar_1d
    else:
        from avforge.eval import ap_ar_1d as fn
    base = peak_rss_mb()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = fn(pred, meta, *ARGS)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime  # all threads
    peak = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak, "base_mb": base,
                      "ap": list(result["ap"].items()), "ar": list(result["ar"].items())}))


def run_child(which: str, pred: Path, meta: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, str(pred), str(meta)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "PRED", "META"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    try:
        load_official()
        names = ["official", "ours"]
    except Exception as exc:  # noqa: BLE001 - report and time ours alone
        print(f"official extension unavailable ({exc}); timing avforge only")
        names = ["ours"]
    with tempfile.TemporaryDirectory() as tmp:
        pred_path, meta_path = Path(tmp) / "pred.json", Path(tmp) / "meta.json"
        pred, meta = generate(args.videos)
        pred_path.write_bytes(orjson.dumps(pred))
        meta_path.write_bytes(orjson.dumps(meta))
        n_props = sum(len(v) for v in pred.values())
        del pred, meta
        print(f"{args.videos} videos, {n_props} proposals, prediction file "
              f"{pred_path.stat().st_size / 1e6:.0f} MB")
        runs = {name: [] for name in names}
        for _ in range(args.repeats):
            for name in names:  # alternating
                runs[name].append(run_child(name, pred_path, meta_path))
    for name in names:
        secs = [r["seconds"] for r in runs[name]]
        peak = max(r["peak_mb"] for r in runs[name])
        base = min(r["base_mb"] for r in runs[name])
        cpu = statistics.median(r["cpu_seconds"] for r in runs[name])
        print(f"{name:>8}: median {statistics.median(secs):.2f} s over {len(secs)} runs "
              f"({', '.join(f'{s:.2f}' for s in secs)}); CPU {cpu:.2f} s (all threads); "
              f"peak RSS {peak:.0f} MB ({peak - base:.0f} MB above import)")
    if len(names) == 2:
        ours, theirs = runs["ours"][0], runs["official"][0]
        delta = max(abs(a[1] - b[1]) for key in ("ap", "ar") for a, b in zip(ours[key], theirs[key]))
        identical = all(r["ap"] == theirs["ap"] and r["ar"] == theirs["ar"] for r in runs["ours"])
        ratio = statistics.median(r["seconds"] for r in runs["official"]) / statistics.median(
            r["seconds"] for r in runs["ours"])
        print(f"numbers identical: {identical} (max |delta| {delta:.2e}); speed-up official/ours: {ratio:.2f}x")
        print(f"AP {dict(theirs['ap'])}\nAR {dict(theirs['ar'])}")


if __name__ == "__main__":
    main()
