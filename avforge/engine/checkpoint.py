"""Checkpoints without pickle: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``<exp>/checkpoints/step_00000123/`` holding
``model.safetensors`` (weights), ``optimizer.safetensors`` (optimizer state tensors),
``state.json`` (format, config, model args, epoch/step, optimizer hyper-parameters, AMP
state, metric history) and ``rng_rank<R>.json`` (torch/numpy/python RNG states of every rank,
as lists). It is written under a temporary name and renamed when complete, so a folder named
``step_*`` is always whole; a kill mid-write leaves only a ``.tmp_*`` folder, removed later.
"""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from avforge.core.errors import AvforgeError
from avforge.core.fileio import read_json, write_json
from avforge.engine.distributed import DistContext, barrier

FORMAT = "avforge-checkpoint/1"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"


# ----------------------------------------------------------------------------- RNG
def rng_state() -> dict:
    """Every RNG the training loop touches, as JSON-ready lists."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state().tolist(),
             "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
             "python": [version, list(py_state), gauss_next]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state().tolist()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, py_state, gauss_next = state["python"]
    random.setstate((version, tuple(py_state), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.tensor(state["cuda"], dtype=torch.uint8))


# ----------------------------------------------------------------------------- optimizer
def split_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """(tensors for safetensors, JSON part) of ``optimizer.state_dict()``."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, per_param in sd["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = value
    for idx, values in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    current = optimizer.state_dict()["param_groups"]
    if len(current) != len(meta["param_groups"]):
        raise AvforgeError("checkpoint optimizer has a different number of parameter groups")
    groups = []
    for now, saved in zip(current, meta["param_groups"]):
        groups.append({k: tuple(v) if isinstance(now.get(k), tuple) else v for k, v in saved.items()})
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ----------------------------------------------------------------------------- save / find
def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(root) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if p.is_dir() and (p / STATE_FILE).is_file())


def save_checkpoint(root, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    state: dict, ctx: DistContext, keep: int = 2) -> Path | None:
    """Write a checkpoint folder (all ranks call this together; rank 0 writes the tensors).

    Returns the final folder on rank 0, None elsewhere. Keeps the newest ``keep`` folders.
    """
    root = Path(root)
    final = root / step_dir_name(step)
    tmp = root / f".tmp_{final.name}"
    if ctx.is_main:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    barrier(ctx)
    write_json(tmp / f"rng_rank{ctx.rank}.json", rng_state())
    barrier(ctx)
    if not ctx.is_main:
        barrier(ctx)
        return None
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp / MODEL_FILE)
    opt_tensors, opt_meta = split_optimizer_state(optimizer)
    save_file(opt_tensors, tmp / OPTIMIZER_FILE)
    write_json(tmp / STATE_FILE, {"format": FORMAT, **state, "optimizer": opt_meta,
                                  "world_size": ctx.world_size, "backend": ctx.backend}, indent=1)
    if final.exists():
        shutil.rmtree(final)
    tmp.replace(final)
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old)
    barrier(ctx)
    return final


def remove_partial(root) -> None:
    """Delete ``.tmp_*`` folders that a killed run left behind."""
    for p in Path(root).glob(".tmp_step_*"):
        shutil.rmtree(p, ignore_errors=True)


# ----------------------------------------------------------------------------- load
MEMBERS_FILE = "members.txt"  # in a recipe's experiment folder: its training folders, one per line (the recipes)


def member_folders(path) -> list[Path]:
    """``path`` as the checkpoint folders to load: a recipe's experiment folder (one with ``members.txt``, as
    ``recipes/*/run.sh`` leave after training) gives the training folders of the model it scored, anything else itself."""
    path = Path(path)
    listed = path / MEMBERS_FILE
    if not listed.is_file():
        return [path]
    try:
        names = [line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise AvforgeError(f"cannot read the recipe's member list ({exc})", path=listed) from None
    bad = [n for n in names if Path(n).is_absolute() or "/" in n or n in (".", "..")]
    if not names or bad:
        raise AvforgeError(f"expected one training folder name per line, found {bad[0]!r}" if bad
                           else "lists no training folder", path=listed)
    return [path / n for n in names]


def resolve_checkpoint(path) -> Path:
    """A checkpoint folder from itself, an experiment folder, or its ``checkpoints`` folder (newest)."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    for root in (path / "checkpoints", path):
        found = list_checkpoints(root)
        if found:
            return found[-1]
    if not path.exists():
        raise AvforgeError("checkpoint not found", path=path)
    hint = (f"; a recipe's experiment folder names its training folders in {MEMBERS_FILE} once training is done"
            if (path / "train").is_dir() else "")
    raise AvforgeError(f"no checkpoint here (expected {STATE_FILE} + {MODEL_FILE}, or an experiment "
                       f"folder with checkpoints/step_*){hint}", path=path)


def read_state(ckpt_dir) -> dict:
    ckpt_dir = Path(ckpt_dir)
    state = read_json(ckpt_dir / STATE_FILE)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise AvforgeError(f"not an avforge checkpoint (expected format {FORMAT!r})", path=ckpt_dir / STATE_FILE)
    return state


def _load_tensors(path: Path) -> dict:
    if not path.is_file():
        raise AvforgeError("checkpoint file missing", path=path)
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise AvforgeError(f"unreadable safetensors file ({' '.join(str(exc).split())})", path=path) from None


def load_model_weights(model: torch.nn.Module, ckpt_dir) -> None:
    """Load weights; a different architecture is a one-line error naming the first mismatch."""
    path = Path(ckpt_dir) / MODEL_FILE
    saved = _load_tensors(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    if missing or unexpected:
        raise AvforgeError(f"checkpoint does not match this model config (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]})", path=path)
    for name, tensor in expected.items():
        if tuple(saved[name].shape) != tuple(tensor.shape):
            raise AvforgeError(f"checkpoint does not match this model config: {name} has shape "
                               f"{tuple(saved[name].shape)}, model expects {tuple(tensor.shape)}", path=path)
    model.load_state_dict(saved)


def load_training_state(ckpt_dir, model, optimizer, rank: int) -> dict:
    """Restore weights, optimizer and this rank's RNG; returns state.json's content."""
    ckpt_dir = Path(ckpt_dir)
    state = read_state(ckpt_dir)
    load_model_weights(model, ckpt_dir)
    load_optimizer_state(optimizer, _load_tensors(ckpt_dir / OPTIMIZER_FILE), state["optimizer"])
    rng_file = ckpt_dir / f"rng_rank{rank}.json"
    if not rng_file.is_file():
        raise AvforgeError(f"checkpoint was written by {state.get('world_size')} process(es); "
                           f"resume with the same number (no RNG state for rank {rank})", path=ckpt_dir)
    set_rng_state(read_json(rng_file))
    return state
