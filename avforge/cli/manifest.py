"""``avforge manifest``: one JSON line per video of a dataset split (record + absolute path)."""
from __future__ import annotations

import argparse
from pathlib import Path

from avforge.core.errors import AvforgeError
from avforge.data import DATASETS, detect_layout, load_dataset
from avforge.data.manifest import manifest_entries, write_manifest
from avforge.data.words import dataset_words, write_words

SPLITS = ("train", "dev", "val", "test", "testA", "testB")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="metadata layout (synthetic: detected from the files present)")
    parser.add_argument("--root", required=True, type=Path, help="dataset folder holding the metadata")
    parser.add_argument("--split", required=True, choices=SPLITS,
                        help="LAV-DF: train/dev/test; AV-Deepfake1M(++): train/val/test/testA/testB")
    parser.add_argument("--out", required=True, type=Path, help="manifest to write (.jsonl)")
    parser.add_argument("--check-files", action="store_true",
                        help="fail unless every listed video exists inside the root (symlinks resolved)")
    parser.add_argument("--words", type=Path, default=None,
                        help="also write the videos' word timings (JSON lines) for training's data.train_words: "
                             "pseudo-forgeries then start and end at word boundaries")


def run(args: argparse.Namespace) -> int:
    records = load_dataset(args.dataset, args.root, args.split)
    if args.check_files:
        entries = manifest_entries(records, args.root, follow_links=True)
        missing = [e.path for e in entries if not e.path.is_file()]
        if missing:
            raise AvforgeError(f"{len(missing)} of {len(entries)} videos of split {args.split!r} are missing "
                               f"(first: {missing[0]})", path=args.root)
    if args.words is not None:  # before the manifest: a failure leaves neither file
        layout = detect_layout(args.root) if args.dataset == "synthetic" else args.dataset
        words = dataset_words(layout, args.root, args.split, (r.file for r in records))
        write_words(args.words, words)
        none = "" if words else (" (none in the metadata: LAV-DF's full metadata.json and AV-Deepfake1M's "
                                 "per-video JSONs have them; pseudo-forgeries will start at random frames)")
        print(f"wrote word timings of {len(words)} of {len(records)} videos to {args.words}{none}")
    count = write_manifest(args.out, records, args.root)
    unlabelled = sum(not r.labelled for r in records)
    fake = sum(r.is_fake for r in records)
    print(f"wrote {count} videos ({count - fake - unlabelled} real, {fake} fake, {unlabelled} unlabelled) "
          f"to {args.out}")
    return 0
