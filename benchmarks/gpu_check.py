"""Every CUDA path of avforge in one run, printed as one table (run it through ``gpu_check.sh``).

    bash benchmarks/gpu_check.sh                     # one GPU, real encoder sizes, < 5 min
    bash benchmarks/gpu_check.sh --device cpu --quick  # tiny sizes, every path (CI runs this)

1. data: ``avforge synth`` clips → manifest → ``avforge extract`` (lip ResNet + conformer at
   Auto-AVSR size, WavLM-base with random weights; ``--quick``: their small/tiny versions).
2. AMP: the default detector, same weights and batch, loss and gradient under bf16 / fp16
   autocast vs fp32 (tolerance below); then the Trainer for a few epochs in each precision
   (loss finite, AMP never switched off, last-epoch loss close to fp32's).
3. ``torchrun --nproc_per_node 1 -m avforge train``: a world of one joins the process group, so
   this runs DDP over NCCL on one GPU (gloo on CPU); the checkpoint records the backend.
4. Batched extraction clips/s per encoder at each batch size (``bench_extract.measure``).
5. ``avforge infer`` real-time factor on the generated clips with the trained checkpoint (its
   encoders rebuilt from the stores' identity: the real-size ones without ``--quick``).
6. Projection to the 343,240-clip AV-Deepfake1M test set in GPU-hours.

Tolerance: autocast rounds every matmul/conv input to the low-precision format, whose unit
roundoff u is 2^-8 for bf16 and 2^-11 for fp16; those roundings are independent and mostly
cancel in sums, so a loss built from a few layers moves by a few u. We allow 8 u relative on the
first-step loss (bf16 3.1 %, fp16 0.39 %) and a gradient cosine similarity ≥ 0.99 to fp32's.
Training trajectories then drift apart (each step's rounding is amplified by the next ones), so
the last-epoch mean loss of a short run must only stay within 10 % of the fp32 run.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_extract import TEST_CLIPS, encoder_specs, measure, synthetic_clip, time_decode  # noqa: E402

from avforge.cli.main import main as avforge  # noqa: E402
from avforge.data.dataset import collate  # noqa: E402
from avforge.data.manifest import read_manifest  # noqa: E402
from avforge.engine.config import load_experiment  # noqa: E402
from avforge.engine.distributed import DistContext  # noqa: E402
from avforge.engine.experiment import feature_dataset  # noqa: E402
from avforge.engine.trainer import Trainer  # noqa: E402
from avforge.features.store import FeatureStore  # noqa: E402
from avforge.models.detector import build_detector  # noqa: E402

UNIT_ROUNDOFF = {"bf16": 2.0 ** -8, "fp16": 2.0 ** -11}
LOSS_TOL_U, GRAD_COSINE_MIN, TRAIN_TOL = 8, 0.99, 0.10
MEAN_DURATION_S = 9.0  # assumed mean clip length for the projection (as bench_extract.py)


@dataclass(frozen=True)
class Sizes:
    clips: int
    min_s: float
    max_s: float
    frame: int
    visual_variant: str  # lip-resnet variant of the store the detector trains on
    wavlm: str  # bench_extract encoder label whose config the audio store uses
    bench: tuple  # encoder labels timed in step 4
    batches: tuple
    bench_s: float
    epochs: int


FULL = Sizes(8, 8.0, 10.0, 224, "auto-avsr", "wavlm-base",
             ("logmel", "lip-light", "lip-resnet-auto-avsr", "wavlm-base"), (1, 16), 9.0, 6)
QUICK = Sizes(4, 1.6, 2.0, 64, "small", "wavlm-tiny", ("logmel", "lip-light", "lip-resnet-small", "wavlm-tiny"),
              (1, 2), 1.0, 2)


@dataclass
class Row:
    check: str
    setting: str
    result: str
    ok: bool | None  # None: a measurement, nothing to pass or fail


def cli(*args) -> None:
    """``avforge ARGS`` in this process, its stdout hidden; a non-zero exit raises."""
    with contextlib.redirect_stdout(io.StringIO()):
        rc = avforge([str(a) for a in args])
    if rc:
        raise RuntimeError(f"avforge {' '.join(map(str, args))} exited with {rc}")


def make_stores(work: Path, sz: Sizes, device: str, rows: list) -> tuple[Path, Path, Path]:
    data, manifest = work / "data", work / "train.jsonl"
    cli("synth", "--out", data, "--n", sz.clips, "--seed", 0, "--layout", "avdeepfake1m", "--min-duration", sz.min_s,
        "--max-duration", sz.max_s, "--size", sz.frame, "--workers", 1)
    cli("manifest", "--dataset", "synthetic", "--root", data, "--split", "train", "--out", manifest)
    wavlm = work / sz.wavlm
    from transformers import WavLMModel

    torch.manual_seed(0)
    WavLMModel(encoder_specs()[sz.wavlm][1]["config"]).save_pretrained(wavlm)
    stores = {"visual": ["--encoder", "lip-resnet", "--variant", sz.visual_variant],
              "audio": ["--encoder", "hf", "--model", wavlm]}
    for name, opts in stores.items():
        t0 = time.perf_counter()
        cli("extract", "--manifest", manifest, *opts, "--out", work / name, "--device", device, "--batch-size", 16,
            "--no-progress")
        rows.append(Row("avforge extract", f"{opts[1]} {opts[-1] if name == 'visual' else sz.wavlm}, "
                        f"{sz.clips} clips", f"{time.perf_counter() - t0:.1f} s", True))
    return work / "visual", work / "audio", manifest


def experiment(visual: Path, audio: Path, manifest: Path, sz: Sizes, *extra):
    return load_experiment("synthetic_small", [f"data.visual_store={visual}", f"data.audio_store={audio}",
                                               f"data.train_manifest={manifest}", "train.batch_size=4",
                                               f"train.epochs={sz.epochs}", "train.warmup_epochs=0", *extra])


def loss_and_grad(model, batch, device: torch.device, amp: str | None):
    model.zero_grad(set_to_none=True)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp, torch.float32)
    scale = 1024.0 if amp == "fp16" else 1.0  # a fixed loss scale keeps fp16 gradients from underflowing
    with torch.autocast(device.type, dtype=dtype, enabled=amp is not None):
        total = model.loss(model(batch), batch)["total"].float()
    (total * scale).backward()
    grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]) / scale
    return float(total.detach()), grad.double()


def amp_checks(stores, sz: Sizes, device: torch.device, work: Path, rows: list) -> None:
    cfg = experiment(*stores, sz, "model.dropout=0.0")
    visual, audio = FeatureStore(stores[0]), FeatureStore(stores[1])
    data = feature_dataset(stores[2], visual, audio, cfg.data.max_frames, cfg.train.seed)
    batch = collate([data[i] for i in range(4)]).to(device)
    torch.manual_seed(0)
    model = build_detector(cfg.model, visual.dim, audio.dim).to(device).train()
    ref_loss, ref_grad = loss_and_grad(model, batch, device, None)
    modes = ["bf16", "fp16"] if device.type == "cuda" else ["bf16"]
    for amp in modes:
        loss, grad = loss_and_grad(model, batch, device, amp)
        rel = abs(loss - ref_loss) / abs(ref_loss)
        cos = float(torch.nn.functional.cosine_similarity(grad, ref_grad, dim=0))
        tol = LOSS_TOL_U * UNIT_ROUNDOFF[amp]
        rows.append(Row(f"{amp} autocast, one step", "same weights + batch as fp32",
                        f"loss {loss:.5f} vs {ref_loss:.5f} (rel {rel:.2e} <= {tol:.1e}), grad cos {cos:.4f}",
                        math.isfinite(loss) and rel <= tol and cos >= GRAD_COSINE_MIN))
    if device.type != "cuda":
        rows.append(Row("fp16 autocast", "", "skipped: fp16 training needs CUDA (the trainer refuses it on CPU)", None))
    finals = {}
    for amp in ["none"] + modes:
        ctx = DistContext(0, 1, device)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            history = Trainer(lambda: build_detector(cfg.model, visual.dim, audio.dim), data,
                              replace(cfg.train, amp=amp), work / f"amp_{amp}", collate_fn=collate, ctx=ctx).fit()
        epochs = [h for h in history if "epoch" in h and "train" in h]
        finals[amp] = epochs[-1]["train"]["total"]
        finite = all(math.isfinite(h["train"]["total"]) for h in epochs)
        kept = all(h["amp"] == (amp != "none") for h in epochs) and not any("event" in h for h in history)
        rel = abs(finals[amp] - finals["none"]) / abs(finals["none"])
        rows.append(Row(f"trainer, amp={amp}", f"{sz.epochs} epochs x {len(data) // 4} steps",
                        f"loss {epochs[0]['train']['total']:.4f} -> {finals[amp]:.4f} (vs fp32 rel {rel:.3f}), "
                        f"{time.perf_counter() - t0:.1f} s", finite and kept and rel <= TRAIN_TOL))


def torchrun_check(stores, sz: Sizes, device: torch.device, work: Path, rows: list) -> Path:
    exp = work / "torchrun"
    sets = [f"data.visual_store={stores[0]}", f"data.audio_store={stores[1]}", f"data.train_manifest={stores[2]}",
            "train.batch_size=4", f"train.epochs={sz.epochs}", "train.warmup_epochs=0"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m", "avforge",
           "train", "--config", "synthetic_small", "--exp-dir", str(exp), "--device", str(device)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd + [a for s in sets for a in ("--set", s)], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    want = "nccl" if device.type == "cuda" else "gloo"
    states = sorted((exp / "checkpoints").glob("*/state.json"))
    state = json.loads(states[-1].read_text()) if states else {}
    ok = res.returncode == 0 and state.get("backend") == want and state.get("world_size") == 1
    detail = f"backend {state.get('backend')}, {time.perf_counter() - t0:.1f} s" if ok else \
        f"exit {res.returncode}: {res.stderr.strip().splitlines()[-1:] or ''}"
    rows.append(Row("torchrun --nproc_per_node 1 avforge train", f"DDP over {want}", detail, ok))
    return exp


def extraction_rows(sz: Sizes, device: torch.device, rows: list) -> dict:
    clips = [synthetic_clip(sz.bench_s, seed=i) for i in range(max(sz.batches))]
    per_clip = {}
    for label, dim, batch, seconds in measure(sz.bench, clips, sz.batches, str(device)):
        per_clip[(label, batch)] = seconds
        rows.append(Row(f"extract {label}", f"batch {batch}, {sz.bench_s:g} s clips, dim {dim}",
                        f"{1 / seconds:.2f} clips/s, RTF {seconds / sz.bench_s:.4f}", None))
    per_clip["decode"] = time_decode(sz.bench_s)
    rows.append(Row("decode (read_av, CPU)", f"{sz.bench_s:g} s 224x224 clip", f"{per_clip['decode'] * 1e3:.0f} ms/clip",
                    None))
    return per_clip


def infer_rtf(exp: Path, manifest: Path, sz: Sizes, device: torch.device, work: Path, rows: list) -> float:
    entries = read_manifest(manifest)
    videos = [str(e.path) for e in entries]
    total_s = sum(e.record.duration_s for e in entries)
    opts = ["--checkpoint", exp, "--audio-encoder", work / sz.wavlm, "--device", device, "--no-progress"]
    if sz is FULL:  # CUDA context, kernels and weights loaded once before timing
        cli("infer", videos[0], *opts, "--out", work / "warm.json")
    t0 = time.perf_counter()
    cli("infer", *videos, *opts, "--out", work / "infer.json")
    rtf = (time.perf_counter() - t0) / total_s
    ok = len(json.loads((work / "infer.json").read_text())) == len(videos)
    rows.append(Row("avforge infer", f"{len(videos)} videos, {total_s:.0f} s in all", f"real-time factor {rtf:.4f}", ok))
    return rtf


def projection_rows(sz: Sizes, rtf: float, per_clip: dict, rows: list) -> None:
    scale = MEAN_DURATION_S / sz.bench_s  # extraction cost grows with clip length
    note = "" if sz is FULL else " (tiny models: not a real projection)"
    rows.append(Row("projection: avforge infer", f"{TEST_CLIPS:,} clips x {MEAN_DURATION_S:g} s",
                    f"{rtf * MEAN_DURATION_S * TEST_CLIPS / 3600:.1f} device-hours{note}", None))
    batch = max(sz.batches)
    encoders = [label for label in sz.bench if label.startswith(("lip-resnet", "wavlm"))]
    gpu_s = sum(per_clip[(label, batch)] for label in encoders) * scale
    rows.append(Row("projection: extraction", f"{' + '.join(encoders)}, batch {batch}",
                    f"{gpu_s * TEST_CLIPS / 3600:.1f} device-hours + decode "
                    f"{per_clip['decode'] * scale * TEST_CLIPS / 3600:.0f} CPU-core-hours{note}", None))


def print_table(rows: list, device: torch.device) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"\ngpu_check on {name}, torch {torch.__version__}\n")
    print("| check | setting | result | ok |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r.check} | {r.setting} | {r.result} | {'' if r.ok is None else ('yes' if r.ok else 'NO')} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: every path, not the real cost")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (created)")
    args = parser.parse_args(argv)
    device, sz = torch.device(args.device), QUICK if args.quick else FULL
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible (use --device cpu --quick for the CPU run)", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    stores = make_stores(args.work, sz, str(device), rows)
    amp_checks(stores, sz, device, args.work, rows)
    exp = torchrun_check(stores, sz, device, args.work, rows)
    per_clip = extraction_rows(sz, device, rows)
    rtf = infer_rtf(exp, stores[2], sz, device, args.work, rows)
    projection_rows(sz, rtf, per_clip, rows)
    print_table(rows, device)
    failed = [r.check for r in rows if r.ok is False]
    print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'all checks passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
