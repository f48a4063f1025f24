"""``--config FILE [--set KEY=VALUE]`` of the commands that run a trained checkpoint (predict, postprocess,
infer): sections of a config as it is now (``infer``, ``postprocess``) instead of those saved with the
checkpoint, so editing them needs no retraining."""
from __future__ import annotations

import argparse

from avforge.core.errors import AvforgeError
from avforge.engine.config import ExperimentConfig, load_experiment


def add_config_arguments(parser: argparse.ArgumentParser, sections: str) -> None:
    parser.add_argument("--config", help=f"experiment config (YAML or shipped stem) whose {sections} replace the "
                                         "checkpoint's (the flags still override)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key of --config (repeatable)")


def edited_config(args: argparse.Namespace) -> ExperimentConfig | None:
    """The ``--config`` given (with its ``--set`` overrides), or None: use the checkpoint's."""
    if args.set and not args.config:
        raise AvforgeError("--set overrides a key of --config: give --config too")
    return load_experiment(args.config, args.set) if args.config else None
