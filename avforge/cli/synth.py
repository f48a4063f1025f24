"""``avforge synth``: generate the seeded synthetic AV-forgery benchmark in a real dataset layout."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from avforge.data.synthetic.generate import FACES, FORGERIES, SynthConfig, generate
from avforge.data.synthetic.layout import LAYOUTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SynthConfig()
    parser.add_argument("--out", required=True, help="output dataset folder (created; must be empty or this dataset)")
    parser.add_argument("--n", type=int, default=d.n, help=f"number of videos (default {d.n}); ~25%% real")
    parser.add_argument("--seed", type=int, default=d.seed, help="same seed, same dataset")
    parser.add_argument("--layout", choices=LAYOUTS, default=d.layout, help="metadata layout (default lavdf)")
    parser.add_argument("--difficulty", type=float, default=d.difficulty,
                        help="0 easy .. 1 hard: weaker artefacts, more noise and motion, shorter fakes")
    parser.add_argument("--forgery", choices=FORGERIES, default=d.forgery,
                        help="artefacts: forged words carry generator artefacts (voice, level, blur, tint); "
                             "mismatch: none, only lips and speech disagree (default artefacts)")
    parser.add_argument("--face", choices=FACES, default=d.face,
                        help="drawn: a painted face per speaker; photo: a real portrait whose jaw and lips are "
                             "warped, framed and coloured per speaker (a second renderer; default drawn)")
    parser.add_argument("--portrait", action="append", default=[],
                        help="with --face photo: a face photo to animate; repeated: speakers take them in turn "
                             "(default: matplotlib's sample portrait)")
    parser.add_argument("--min-duration", type=float, default=d.min_duration_s, help="seconds per clip, at least")
    parser.add_argument("--max-duration", type=float, default=d.max_duration_s, help="seconds per clip, at most")
    parser.add_argument("--size", type=int, default=d.size, help="frame side in pixels (even)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty output folder holding other data")


def run(args: argparse.Namespace) -> int:
    cfg = SynthConfig(n=args.n, seed=args.seed, layout=args.layout, difficulty=args.difficulty,
                      min_duration_s=args.min_duration, max_duration_s=args.max_duration, size=args.size,
                      forgery=args.forgery, face=args.face,
                      portraits=tuple(str(Path(p).resolve()) for p in args.portrait))
    start = time.perf_counter()
    out = generate(args.out, cfg, workers=args.workers, force=args.force)
    print(f"wrote {cfg.n} videos ({cfg.layout} layout, {cfg.forgery} forgeries, {cfg.face} faces, "
          f"seed {cfg.seed}) to {out} in {time.perf_counter() - start:.1f} s")
    return 0
