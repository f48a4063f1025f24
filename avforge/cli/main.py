"""``avforge <command>``: dispatches to one module per command, imported on demand."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from avforge.core.errors import MAX_LINE, AvforgeError, shown

# command -> (module, one-line help). Each module defines add_arguments(parser) and run(args).
COMMANDS = {
    "synth": ("avforge.cli.synth", "generate the synthetic AV-forgery benchmark"),
    "manifest": ("avforge.cli.manifest", "write a JSON-lines manifest of a dataset split"),
    "extract": ("avforge.cli.extract", "extract visual/audio features into a resumable store"),
    "train": ("avforge.cli.train", "train a detector from a YAML config"),
    "predict": ("avforge.cli.predict", "run a checkpoint over a feature store, caching raw outputs"),
    "postprocess": ("avforge.cli.postprocess", "Soft-NMS raw outputs into proposals JSON"),
    "infer": ("avforge.cli.infer", "localize forgeries in any video(s), no metadata needed"),
    "report": ("avforge.cli.report", "interactive HTML report pages from an infer result (no re-inference)"),
    "evaluate": ("avforge.cli.evaluate", "score proposals with the official metrics"),
    "submit": ("avforge.cli.submit", "write a challenge submission (json/txt/zip)"),
    "validate-submission": ("avforge.cli.validate_submission", "check a submission file"),
}


def _available() -> dict:
    return {k: v for k, v in COMMANDS.items() if importlib.util.find_spec(v[0]) is not None}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avforge", description="Audio-visual temporal forgery localization.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except AvforgeError as exc:
        print(f"avforge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"avforge {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - users get one line; AVFORGE_DEBUG=1 for the traceback
        if os.environ.get("AVFORGE_DEBUG"):
            raise
        print(f"avforge {args.command}: error: {type(exc).__name__}: {shown(' '.join(str(exc).split()), MAX_LINE)}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
