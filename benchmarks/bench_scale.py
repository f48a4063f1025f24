"""Every non-neural stage at AV-Deepfake1M size, each as a user runs it in a fresh process.

    nice -n 15 python benchmarks/bench_scale.py [--cache /work/scale_cache] [--stages ...]

Generates once into ``--cache`` (seeded; reused while the sizes match): metadata of 1,146,760
videos with the real AV-Deepfake1M field set (``train_metadata.json``), a 57k-video
``val_metadata.json``, ``test_files.txt`` with 343,240 videos and labels for them, predictions
with 100 proposals per video for val and test (sorted, rounded like submissions), video scores,
and a feature store of 100,000 small entries per modality with its manifest. Then runs each stage
in a new process and reads its wall time, CPU time (all threads) and peak resident memory
(``wait4``'s ``ru_maxrss``). Goal per stage on 2 cores: < 60 s and < 4 GB. ``evaluate`` is also
run with the official ``avdeepfake1m`` 0.0.4 evaluator on the same files (the ratio is printed).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

N_META, N_VAL, N_TEST, N_PROPOSALS, N_STORE = 1_146_760, 57_000, 343_240, 100, 100_000
GOAL_S, GOAL_MB = 60.0, 4096.0
VARIANTS = (("real", "real"), ("fake_video_real_audio", "visual_modified"),
            ("real_video_fake_audio", "audio_modified"), ("fake_video_fake_audio", "both_modified"))
CHUNK = 20_000


# ---------------------------------------------------------------------------- data

def write_json_array(path: Path, n: int, make_chunk, opener=b"[", closer=b"]") -> None:
    """Write ``opener`` + the chunks' items (``make_chunk(start, stop) -> bytes`` of comma-joined
    items) + ``closer`` to ``path`` atomically, never holding more than one chunk."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(opener)
        for start in range(0, n, CHUNK):
            f.write((b"," if start else b"") + make_chunk(start, min(n, start + CHUNK)))
        f.write(closer)
    tmp.replace(path)


def segments(rng, frames: int, k: int) -> list:
    """``k`` short word-level segments (0.1-0.6 s) inside a video of ``frames`` frames."""
    dur = frames / 25.0
    out = []
    for _ in range(k):
        length = float(rng.uniform(0.1, 0.6))
        start = round(float(rng.uniform(0, dur - length)), 2)
        out.append([start, round(start + length, 2)])
    return sorted(out)


def metadata_chunk(split: str, test_names: bool):
    """Records with the real field set (FIELD.md): file, original, split, modify_type, audio_model,
    fake_segments, audio_fake_segments, visual_fake_segments, video_frames, audio_frames."""
    def make(start: int, stop: int) -> bytes:
        rng = np.random.default_rng(start)
        items = []
        for i in range(start, stop):
            variant, modify = VARIANTS[i % 4]
            clip = f"id{i // 400:05d}/yt{(i // 4) % 1000:05d}/{i // 4:06d}"
            frames = int(rng.integers(75, 500))
            fake = segments(rng, frames, int(rng.integers(1, 3))) if modify != "real" else []
            items.append({"file": f"{i:06d}.mp4" if test_names else f"{clip}/{variant}.mp4",
                          "original": None if modify == "real" else f"{clip}/real.mp4", "split": split,
                          "modify_type": modify,
                          "audio_model": "your_tts" if modify in ("audio_modified", "both_modified") else None,
                          "fake_segments": fake,
                          "audio_fake_segments": fake if modify in ("audio_modified", "both_modified") else [],
                          "visual_fake_segments": fake if modify in ("visual_modified", "both_modified") else [],
                          "video_frames": frames, "audio_frames": frames * 640})
        return orjson.dumps(items)[1:-1]
    return make


def predictions_chunk(seed: int):
    """100 proposals per video, half near a true segment, sorted by score, rounded (4 / 2 decimals)."""
    def make(start: int, stop: int) -> bytes:
        rng = np.random.default_rng(seed + start)
        meta = metadata_chunk("test", True)(start, stop)
        records = orjson.loads(b"[" + meta + b"]")
        out = {}
        for r in records:
            dur, k = r["video_frames"] / 25.0, N_PROPOSALS
            p_start, p_len = rng.uniform(0, dur - 0.2, k), rng.uniform(0.05, 1.0, k)
            if r["fake_segments"]:
                g = np.asarray(r["fake_segments"])[rng.integers(0, len(r["fake_segments"]), k)]
                near = rng.random(k) < 0.5
                p_start = np.where(near, g[:, 0] + rng.normal(0, 0.05, k), p_start)
                p_len = np.where(near, g[:, 1] - g[:, 0] + rng.normal(0, 0.05, k), p_len)
            p_start = np.round(np.clip(p_start, 0, dur - 0.1), 2)
            p_end = np.minimum(np.maximum(np.round(p_start + np.clip(p_len, 0.02, None), 2), p_start + 0.01),
                               round(dur, 2))
            scores = np.round(np.sort(rng.uniform(0.0001, 1, k))[::-1], 4)
            out[r["file"]] = np.stack([scores, p_start, p_end], 1).tolist()
        return orjson.dumps(out)[1:-1]
    return make


def make_store(root: Path, n: int) -> Path:
    """Two feature stores (visual dim 8, audio dim 4) of ``n`` videos of 40-80 frames, and a manifest."""
    from avforge.core.types import VideoRecord
    from avforge.data.manifest import write_manifest
    from avforge.features.spec import EncoderSpec
    from avforge.features.store import FeatureStore

    rng = np.random.default_rng(0)
    stores = [FeatureStore(root / m, EncoderSpec(f"toy-{m}", m, d)) for m, d in (("visual", 8), ("audio", 4))]
    records = []
    for i in range(n):
        frames = int(rng.integers(40, 80))
        file = f"{i // 1000:03d}/{i:06d}.mp4"
        for store in stores:  # np.save straight to the final name: generation need not be atomic
            path = store.path_of(file)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, rng.standard_normal((frames, store.dim), dtype=np.float32))
        fake = i % 2 == 1
        seg = ((0.4, 0.8),) if fake else ()
        records.append(VideoRecord(file=file, split="train", modify_type="both_modified" if fake else "real",
                                   fake_segments=seg, audio_fake_segments=seg, visual_fake_segments=seg,
                                   duration_s=frames / 25.0))
    manifest = root / "train.jsonl"
    write_manifest(manifest, records, root)
    return manifest


def pack_store(src: Path, dst: Path, dtype: str) -> None:
    """The same features in a packed store of ``dtype`` (what ``extract --layout packed`` writes)."""
    from avforge.features.store import FeatureStore

    for modality in ("visual", "audio"):
        a = FeatureStore(src / modality)
        b = FeatureStore(dst / modality, a.spec, dtype=dtype, layout="packed")
        for file in a.files():
            b.save(file, a.load(file).data)
        b.packs.close()
    (dst / "train.jsonl").write_bytes((src / "train.jsonl").read_bytes())


def generate(cache: Path) -> None:
    """Everything the stages read, written once (a stamp file records the sizes)."""
    stamp = cache / "sizes.json"
    sizes = {"meta": N_META, "val": N_VAL, "test": N_TEST, "proposals": N_PROPOSALS, "store": N_STORE, "v": 2}
    if stamp.is_file() and json.loads(stamp.read_text()) == sizes:
        return
    root = cache / "av1m"
    root.mkdir(parents=True, exist_ok=True)
    steps = [
        ("train_metadata.json", lambda p: write_json_array(p, N_META, metadata_chunk("train", False))),
        ("val_metadata.json", lambda p: write_json_array(p, N_VAL, metadata_chunk("val", True))),
        ("test_labels.json", lambda p: write_json_array(p, N_TEST, metadata_chunk("test", True))),
        ("val_pred.json", lambda p: write_json_array(p, N_VAL, predictions_chunk(1), b"{", b"}")),
        ("test_pred.json", lambda p: write_json_array(p, N_TEST, predictions_chunk(2), b"{", b"}")),
    ]
    for name, write in steps:
        t0 = time.perf_counter()
        write((cache if name.endswith("pred.json") else root) / name)
        print(f"generated {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    (root / "test_files.txt").write_text("".join(f"{i:06d}.mp4\n" for i in range(N_TEST)))
    rng = np.random.default_rng(3)
    (cache / "test_scores.json").write_bytes(orjson.dumps(
        {f"{i:06d}.mp4": round(float(s), 4) for i, s in enumerate(rng.random(N_TEST))}))
    t0 = time.perf_counter()
    make_store(cache / "store_npy", N_STORE)
    pack_store(cache / "store_npy", cache / "store_packed16", "float16")
    print(f"generated the {N_STORE:,}-entry feature stores in {time.perf_counter() - t0:.0f} s", flush=True)
    stamp.write_text(json.dumps(sizes))


# ---------------------------------------------------------------------------- stages

@dataclass
class Result:
    stage: str
    size: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    rc: int

    @property
    def meets(self) -> bool:
        """Judged on CPU time: these stages are single-threaded, so on free cores wall ~ CPU, while on a
        shared machine the wall time mostly measures the other jobs."""
        return self.rc == 0 and self.cpu_s < GOAL_S and self.peak_mb < GOAL_MB


def high_water_mb(pid: int) -> float | None:
    """VmHWM of a running process: the peak RSS of its own address space (ru_maxrss would also
    count this parent's memory, inherited at fork)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run(stage: str, size: str, cmd: list, log: Path) -> Result:
    """Run ``cmd`` in a fresh process; wall time, CPU time (wait4) and peak RSS (VmHWM, polled
    every 20 ms until it exits) of that process alone."""
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT)
        peak = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, high_water_mb(proc.pid) or 0.0)
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Result(stage, size, wall, usage.ru_utime + usage.ru_stime, peak, proc.returncode)


def loader_pass(manifest: str) -> None:
    """What ``avforge train`` does before and during an epoch on the data side: open the stores, check
    every video has features, then one shuffled DataLoader pass with the collate (batch 64)."""
    from torch.utils.data import DataLoader

    from avforge.data.dataset import collate
    from avforge.engine.experiment import feature_dataset
    from avforge.features.store import FeatureStore

    root = Path(manifest).parent
    data = feature_dataset(manifest, FeatureStore(root / "visual"), FeatureStore(root / "audio"), max_frames=64)
    n = sum(len(b.files) for b in DataLoader(data, batch_size=64, shuffle=True, collate_fn=collate))
    print(f"{n} clips")


def stages(cache: Path, out: Path) -> list:
    py, root = sys.executable, cache / "av1m"
    official = ("import sys; sys.path.insert(0, sys.argv[1]); import bench_eval; "
                "bench_eval.load_official().ap_ar_1d(sys.argv[2], sys.argv[3], *bench_eval.ARGS)")
    load = ("import sys; from avforge.data.avdeepfake1m import load_avdeepfake1m; "
            "print(len(load_avdeepfake1m(sys.argv[1], 'train')))")
    val, test = f"{N_VAL:,} videos x {N_PROPOSALS}", f"{N_TEST:,} videos x {N_PROPOSALS}"
    return [
        ("metadata load", f"{N_META:,} records", [py, "-c", load, root]),
        ("avforge manifest", f"{N_META:,} records",
         [py, "-m", "avforge", "manifest", "--dataset", "avdeepfake1m", "--root", root, "--split", "train",
          "--out", out / "train.jsonl"]),
        ("avforge submit", test, [py, "-m", "avforge", "submit", "--proposals", cache / "test_pred.json", "--scores",
                                  cache / "test_scores.json", "--files", root / "test_files.txt",
                                  "--out", out / "submission.zip"]),
        ("avforge validate-submission", test, [py, "-m", "avforge", "validate-submission", out / "submission.zip",
                                               "--files", root / "test_files.txt"]),
        ("avforge evaluate (val)", val, [py, "-m", "avforge", "evaluate", "--pred", cache / "val_pred.json",
                                         "--meta", root / "val_metadata.json", "--split", "val"]),
        ("official evaluator (val)", val, [py, "-c", official, HERE, cache / "val_pred.json",
                                           root / "val_metadata.json"]),
        ("avforge evaluate (test size)", test, [py, "-m", "avforge", "evaluate", "--pred", cache / "test_pred.json",
                                                "--meta", root / "test_labels.json", "--split", "test"]),
        ("official evaluator (test size)", test, [py, "-c", official, HERE, cache / "test_pred.json",
                                                  root / "test_labels.json"]),
        ("training data loader pass (.npy files)", f"{N_STORE:,} videos, 2 stores",
         [py, __file__, "--loader-pass", cache / "store_npy" / "train.jsonl"]),
        ("training data loader pass (packed float16)", f"{N_STORE:,} videos, 2 stores",
         [py, __file__, "--loader-pass", cache / "store_packed16" / "train.jsonl"]),
    ]


def disk_usage(root: Path) -> tuple[int, int, int]:
    """(files, bytes of content, bytes allocated on disk) under ``root``."""
    n = size = allocated = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            n, size, allocated = n + 1, size + st.st_size, allocated + st.st_blocks * 512
    return n, size, allocated


def print_store_sizes(cache: Path, by: dict) -> None:
    """Side by side: one float32 .npy per video vs the packed float16 store of the same features."""
    print(f"\nfeature stores, {N_STORE:,} videos x 2 modalities (40-80 frames, dims 8 + 4):")
    print("| store | files | content MB | on disk MB | loader pass s | clips/s |\n|---|---|---|---|---|---|")
    for name, label in (("store_npy", ".npy files"), ("store_packed16", "packed float16")):
        n, size, allocated = disk_usage(cache / name)
        r = by.get(f"training data loader pass ({label})")
        timing = f"{r.wall_s:.1f} | {N_STORE / r.wall_s:,.0f}" if r and r.rc == 0 else "- | -"
        print(f"| {label} | {n:,} | {size / 1e6:,.0f} | {allocated / 1e6:,.0f} | {timing} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/work/scale_cache"), help="generated inputs (reused)")
    parser.add_argument("--stages", nargs="*", help="substrings of the stage names to run (default all); the "
                        "table also shows the others' last results in --cache (so parts can run in parallel)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (a smoke run: 0.01)")
    parser.add_argument("--loader-pass", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loader_pass:
        loader_pass(args.loader_pass)
        return 0
    if args.scale != 1.0:
        for name in ("N_META", "N_VAL", "N_TEST", "N_STORE"):
            globals()[name] = max(8, int(globals()[name] * args.scale))
    generate(args.cache)
    out = args.cache / "out"
    out.mkdir(exist_ok=True)
    results = []
    for name, size, cmd in stages(args.cache, out):
        stem = out / "".join(c if c.isalnum() else "_" for c in name)
        if args.stages is not None and not any(s in name for s in args.stages):
            if stem.with_suffix(".json").is_file():  # measured by another (e.g. parallel) run
                results.append(Result(**json.loads(stem.with_suffix(".json").read_text())))
            continue
        r = run(name, size, cmd, stem.with_suffix(".log"))
        stem.with_suffix(".json").write_text(json.dumps(vars(r)))
        results.append(r)
        print(f"{name}: {r.wall_s:.1f} s, CPU {r.cpu_s:.1f} s, peak {r.peak_mb:.0f} MB, exit {r.rc}", flush=True)
    print(f"\n{os.cpu_count()} CPU cores (load average {os.getloadavg()[0]:.1f}), Python {sys.version.split()[0]}; goal per "
          f"stage < {GOAL_S:.0f} s (CPU time) and < {GOAL_MB / 1024:.0f} GB peak\n")
    print("| stage | size | wall s | CPU s | peak MB | meets goal |\n|---|---|---|---|---|---|")
    for r in results:
        meets = "-" if r.stage.startswith("official") else ("yes" if r.meets else f"NO (exit {r.rc})" if r.rc else "NO")
        print(f"| {r.stage} | {r.size} | {r.wall_s:.1f} | {r.cpu_s:.1f} | {r.peak_mb:.0f} | {meets} |")
    by = {r.stage: r for r in results}
    print_store_sizes(args.cache, by)
    for split in ("val", "test size"):
        ours, theirs = by.get(f"avforge evaluate ({split})"), by.get(f"official evaluator ({split})")
        if ours and theirs and ours.rc == 0 and theirs.rc == 0:
            print(f"evaluate ({split}): official / avforge wall {theirs.wall_s / ours.wall_s:.2f}x, "
                  f"peak memory {theirs.peak_mb:.0f} / {ours.peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
