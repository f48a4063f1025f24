"""Benchmark: a recipe's ensemble trained one member after another vs side by side (--member_jobs).

    python benchmarks/bench_members.py --data_root data/synthetic --exp_dir exp/synthetic \
        [--recipe synthetic] [--members 3] [--jobs 2 3] [--epochs 5] [--sync_epochs 10]

Needs a recipe run's stages 0-3 (manifests and feature stores in --exp_dir). Each mode runs the
recipe's stage 4 with the same members, seeds and config in a fresh folder of its own (manifests and
features linked, nothing of --exp_dir written); modes alternate over --repeats rounds. Prints each
mode's wall time and its speed-up over one member at a time, measured side by side in this run.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def train_members(recipe: str, data_root: Path, exp_dir: Path, out: Path, members: int, jobs: int,
                  train_set: str) -> float:
    out.mkdir(parents=True)
    for name in ("manifests", "features"):
        (out / name).symlink_to((exp_dir / name).resolve())
    cmd = ["bash", str(REPO / "recipes" / recipe / "run.sh"), "--data_root", str(data_root), "--exp_dir", str(out),
           "--stage", "4", "--stop_stage", "4", "--members", str(members), "--member_jobs", str(jobs),
           "--train_set", train_set]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"stage 4 with --member_jobs {jobs} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", type=Path, required=True)
    p.add_argument("--exp_dir", type=Path, required=True, help="a recipe's exp dir with manifests/ and features/")
    p.add_argument("--recipe", default="synthetic")
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--jobs", type=int, nargs="+", default=[2, 3], help="--member_jobs values besides 1")
    p.add_argument("--epochs", type=int, default=5, help="detector epochs per member")
    p.add_argument("--sync_epochs", type=int, default=10, help="sync-stage epochs per member")
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    for name in ("manifests", "features"):
        if not (args.exp_dir / name).is_dir():
            raise SystemExit(f"{args.exp_dir / name}: missing; run the recipe's stages 0-3 first (--stop_stage 3)")
    train_set = f"train.epochs={args.epochs} model.sync_pretrain_epochs={args.sync_epochs}"
    modes = [1, *args.jobs]
    walls: dict[int, list[float]] = {j: [] for j in modes}
    with tempfile.TemporaryDirectory(prefix="bench_members_") as tmp:
        for r in range(args.repeats):
            for j in modes:
                walls[j].append(train_members(args.recipe, args.data_root, args.exp_dir, Path(tmp) / f"r{r}_j{j}",
                                              args.members, j, train_set))
                print(f"round {r + 1}: --member_jobs {j}: {walls[j][-1]:.1f} s", flush=True)
    base = statistics.median(walls[1])
    print(f"\n{args.members} members, {train_set}; median wall time of {args.repeats} round(s)")
    for j in modes:
        w = statistics.median(walls[j])
        print(f"  --member_jobs {j}: {w:7.1f} s  speed-up {base / w:.2f}x")


if __name__ == "__main__":
    main()
