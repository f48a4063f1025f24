"""Benchmark avforge.io: decode throughput of read_av vs naive PyAV, and peak memory of windows.

    python benchmarks/bench_io.py [--clips 6] [--clip-s 10] [--repeats 3] [--hours 1] [--window-s 60]

1. Throughput: the same 224x224 25 fps H.264 + AAC clips read by ``read_av`` (frames + 16 kHz
   mono on one clock) and by the naive reference-loader way (PyAV decodes every video frame to
   RGB and every audio frame, all at once, then the audio is mixed down). Rounds alternate the
   two readers; the median round time of each and their ratio are printed.
2. Memory: a generated 96x96 video of ``--hours`` (cached under the temp dir, generated once)
   is read with ``iter_windows`` in a fresh subprocess that reports its RSS high-water mark;
   for comparison, a second subprocess only opens decord's AudioReader on the same file.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CACHE = Path(tempfile.gettempdir()) / "avforge_bench_io"


def write_clip(path: Path, seconds: float, size: int, fps: int = 25, sample_rate: int = 16000,
               seed: int = 0) -> Path:
    """A moving-bars video with a noisy tone, streamed to disk frame by frame (any length)."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".part.mp4")
    n_frames = int(round(seconds * fps))
    with av.open(str(tmp), "w") as out:
        video = out.add_stream("libx264", rate=Fraction(fps))
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "23"}
        audio = out.add_stream("aac", rate=sample_rate, layout="mono")
        blocks = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        base = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))  # 8x8 blocks: cheap to encode
        per_frame = sample_rate // fps
        t = np.arange(per_frame * fps) / sample_rate  # one second of a 220 Hz tone
        second = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        for i in range(n_frames):
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="rgb24")))
            if i % fps == 0:  # one second of audio per 25 frames
                wave = second + 0.01 * rng.standard_normal(len(second)).astype(np.float32)
                for k in range(0, len(wave), 1024):
                    frame = av.AudioFrame.from_ndarray(wave[None, k:k + 1024].copy(), format="fltp",
                                                       layout="mono")
                    frame.sample_rate, frame.pts = sample_rate, (i // fps) * len(second) + k
                    out.mux(audio.encode(frame))
        out.mux(video.encode())
        out.mux(audio.encode())
    tmp.rename(path)
    return path


def read_naive(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Everything at once with PyAV, like the reference loaders (torchvision.io.read_video)."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(path)) as container:
        wave = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1).mean(axis=0)
    return frames, wave


def throughput(clips: list[Path], repeats: int) -> dict:
    from avforge.io import read_av

    readers = {"read_av": lambda p: read_av(p), "naive_pyav": read_naive}
    for reader in readers.values():  # warm-up: imports, page cache
        reader(clips[0])
    times = {name: [] for name in readers}
    for r in range(repeats):
        order = list(readers) if r % 2 == 0 else list(reversed(readers))
        for name in order:
            start = time.perf_counter()
            for path in clips:
                readers[name](path)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    paired = sorted(n / r for n, r in zip(times["naive_pyav"], times["read_av"]))
    return {"rounds_s": times, "median_s": med, "paired_ratios": paired,
            "naive_over_read_av": med["naive_pyav"] / med["read_av"]}


CHILD = r"""
import json, resource, sys, time
mode, path, window_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
import numpy as np, decord, av, soxr
from avforge.io import iter_windows
base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
n_frames = n_samples = 0
if mode == "windows":
    for clip in iter_windows(path, window_s):
        n_frames += clip.num_frames
        n_samples += len(clip.wave)
else:
    reader = decord.AudioReader(path, sample_rate=16000, mono=True)
    n_samples = reader.shape[1]
print(json.dumps({"mode": mode, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "after_imports_mb": base_mb, "seconds": time.perf_counter() - start,
                  "frames": n_frames, "samples": n_samples}))
"""


def peak_memory(path: Path, window_s: float, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(window_s)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--clip-s", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)

    clips = [write_clip(CACHE / f"clip{i}_{args.clip_s:g}s.mp4", args.clip_s, 224, seed=i)
             for i in range(args.clips)]
    result = throughput(clips, args.repeats)
    total_s = args.clips * args.clip_s
    print(f"throughput over {args.clips} x {args.clip_s:g} s 224x224 clips, median of {args.repeats}:")
    for name, seconds in result["median_s"].items():
        print(f"  {name:10s} {seconds:7.3f} s  ({total_s / seconds:6.1f} x real time)")
    print(f"  ratio naive PyAV time / read_av time = {result['naive_over_read_av']:.2f} (medians); "
          f"per round: {' '.join(f'{r:.2f}' for r in result['paired_ratios'])}")
    if args.skip_memory:
        return

    start = time.perf_counter()
    long_path = write_clip(CACHE / f"long_{args.hours:g}h_96px.mp4", args.hours * 3600, 96, seed=99)
    print(f"{args.hours:g} h 96x96 video: {long_path} ({long_path.stat().st_size / 2**20:.0f} MiB, "
          f"ready in {time.perf_counter() - start:.0f} s)")
    for mode in ("windows", "decord_audio"):
        m = peak_memory(long_path, args.window_s, mode)
        what = f"iter_windows({args.window_s:g} s)" if mode == "windows" else "decord AudioReader open"
        print(f"  {what:28s} peak RSS {m['peak_mb']:7.0f} MB (after imports {m['after_imports_mb']:.0f} MB), "
              f"{m['seconds']:.1f} s, {m['frames']} frames, {m['samples']} samples")


if __name__ == "__main__":
    main()
