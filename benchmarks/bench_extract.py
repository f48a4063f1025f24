"""Feature extraction speed per encoder: clips/s, real-time factor, and the AV-Deepfake1M test projection.

    python benchmarks/bench_extract.py                  # CPU, every encoder
    python benchmarks/bench_extract.py --device cuda --batch-size 1 16
    python benchmarks/bench_extract.py --encoders logmel lip-light --clips 4

All encoders run side by side in one process on the same synthetic clips (``--duration`` seconds,
25 fps, 224×224 frames of the photo renderer's talking face); decoding is timed separately on a
real H.264/AAC file of that length.
Random weights cost the same as trained ones, so "wavlm-base (random)" estimates the real
WavLM-base cost. The projection multiplies the per-clip cost by 343,240 test clips, assuming
each lasts ``--duration`` seconds on average (an assumption: set it to the real mean).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avforge.features.registry import build_encoder  # noqa: E402
from avforge.io.media import AVClip, read_av  # noqa: E402
from avforge.io.writer import write_video  # noqa: E402

TEST_CLIPS = 343_240  # AV-Deepfake1M test set (FIELD.md)


def encoder_specs():
    from transformers import WavLMConfig

    tiny = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                       conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    return {
        "logmel": ("logmel", {}),
        "lip-light": ("lip-light", {}),  # default crop: detect (yuface at 5 fps)
        "lip-light-fixed": ("lip-light", {"crop": "fixed"}),
        "lip-resnet-small": ("lip-resnet", {"variant": "small"}),
        "lip-resnet-auto-avsr": ("lip-resnet", {"variant": "auto-avsr"}),
        "wavlm-tiny": ("hf", {"config": tiny}),
        "wavlm-base": ("hf", {"config": WavLMConfig()}),  # base size: 12 layers, 768 dims, 94 M params
    }


def synthetic_clip(duration_s: float, seed: int, size: int = 224) -> AVClip:
    """A talking face (the synthetic photo renderer, so face detection has a face to find) and noise audio."""
    from avforge.data.synthetic.face import Scene
    from avforge.data.synthetic.photo_face import PhotoFaceRenderer, PhotoIdentity

    rng = np.random.default_rng(seed)
    n_frames = int(round(duration_s * 25))
    renderer = PhotoFaceRenderer(PhotoIdentity.sample(rng), size, seed=seed)
    frames = renderer.render(Scene.sample(rng, n_frames, 0.5, renderer.margin),
                             rng.uniform(0, 1, n_frames), rng.uniform(0, 1, n_frames))
    wave = (0.1 * rng.standard_normal(n_frames * 640)).astype(np.float32)
    return AVClip(frames=frames, wave=wave, duration_s=n_frames / 25.0)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_encoder(encoder, clips, batch_size: int, device: str) -> float:
    """Seconds per clip (after one warm-up batch)."""
    encoder.encode_batch(clips[:batch_size])
    sync(device)
    start = time.perf_counter()
    for i in range(0, len(clips), batch_size):
        encoder.encode_batch(clips[i:i + batch_size])
    sync(device)
    return (time.perf_counter() - start) / len(clips)


def time_decode(duration_s: float, repeats: int = 3) -> float:
    clip = synthetic_clip(duration_s, seed=99)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        write_video(path, clip.frames, clip.wave)
        read_av(path)
        start = time.perf_counter()
        for _ in range(repeats):
            read_av(path)
        return (time.perf_counter() - start) / repeats


def measure(labels, clips, batch_sizes, device: str):
    """Yield (label, dim, batch size, seconds per clip) for every encoder and batch size."""
    specs = encoder_specs()
    for label in labels:
        name, opts = specs[label]
        encoder = build_encoder(name, device=device, **opts)
        for batch in batch_sizes:
            yield label, encoder.dim, batch, time_encoder(encoder, clips, batch, device)
        del encoder


def main(argv=None) -> int:
    specs = encoder_specs()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=list(specs), choices=list(specs))
    parser.add_argument("--clips", type=int, default=3, help="timed clips per encoder")
    parser.add_argument("--duration", type=float, default=9.0, help="clip length in seconds (assumed mean)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[1], help="one or more batch sizes")
    args = parser.parse_args(argv)

    clips = [synthetic_clip(args.duration, seed=i) for i in range(max(args.clips, *args.batch_size))]
    hw = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {args.device} ({hw}); clip {args.duration:.1f} s (225 frames at 9 s); "
          f"{len(clips)} clips per encoder and batch size")
    decode_s = time_decode(args.duration)
    print(f"decode (read_av, 224x224 H.264 + AAC): {decode_s * 1000:.0f} ms/clip, "
          f"real-time factor {decode_s / args.duration:.4f}")
    print(f"{'encoder':<22}{'dim':>6}{'batch':>6}{'clips/s':>10}{'RTF':>10}{'343k test, h':>15}{'+decode, h':>12}")
    for label, dim, batch, per_clip in measure(args.encoders, clips, args.batch_size, args.device):
        hours = per_clip * TEST_CLIPS / 3600
        with_decode = (per_clip + decode_s) * TEST_CLIPS / 3600
        print(f"{label:<22}{dim:>6}{batch:>6}{1 / per_clip:>10.2f}{per_clip / args.duration:>10.4f}"
              f"{hours:>15.1f}{with_decode:>12.1f}")
    print(f"projection: {TEST_CLIPS:,} clips x {args.duration:.1f} s assumed mean, one process on this device; "
          "divide by the number of GPUs / processes (torchrun) for a sharded run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
