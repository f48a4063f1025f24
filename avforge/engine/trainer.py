"""The training loop: seeded, torchrun DDP, AMP with an fp32 fallback, accumulation, exact resume.

Works with any ``nn.Module`` whose ``forward(batch)`` output goes into ``loss(out, batch)``
(a dict of scalar tensors with key ``"total"``) and any map-style dataset whose ``collate_fn``
yields a core ``Batch`` (anything with ``.to(device)``).

Exact resume: a checkpoint stores weights, optimizer state, every rank's torch/numpy/python RNG
and the position inside the epoch; data order is a pure function of (seed, epoch) and the
dataset's ``set_epoch`` is called, so a run killed and resumed reaches bitwise the same weights
as an uninterrupted one. (A dataset that draws from the global RNG inside DataLoader workers
is exact only from epoch-end checkpoints; ``FeatureDataset`` keys its crops by
(seed, epoch, index) and is exact everywhere.)
"""
from __future__ import annotations

import contextlib
import itertools
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from avforge.core.errors import AvforgeError
from avforge.core.fileio import write_jsonl
from avforge.engine import checkpoint as ckpt
from avforge.engine.distributed import DistContext, any_true, barrier, check_replicas_in_sync
from avforge.engine.train_config import TrainConfig

MAX_NONFINITE_FP32_STEPS = 5  # consecutive fp32 steps with a non-finite loss before giving up


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` that can start part-way through an epoch.

    Rank r takes ``perm[r::world]``, so the clips of optimizer step k on all ranks together are
    ``perm[k * batch_size:(k + 1) * batch_size]`` whatever the number of processes.
    """

    def __init__(self, dataset, *, world_size: int, rank: int, seed: int, start_index: int = 0):
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.start_index = start_index

    def __iter__(self):
        return itertools.islice(super().__iter__(), self.start_index, None)

    def __len__(self) -> int:
        return self.num_samples - self.start_index


def lr_at(step: int, total_steps: int, warmup_steps: int, cfg: TrainConfig) -> float:
    if step < warmup_steps:
        return cfg.lr * (step + 1) / warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    low = cfg.lr * cfg.min_lr_ratio
    return low + 0.5 * (cfg.lr - low) * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _check_same_config(saved: dict, current: dict, where: Path) -> None:
    ignore = {"train.epochs", "train.num_workers"}
    a, b = _flat(json.loads(json.dumps(saved))), _flat(json.loads(json.dumps(current)))  # tuples -> lists
    diff = sorted(k for k in set(a) | set(b) if k not in ignore and a.get(k) != b.get(k))
    if diff:
        k = diff[0]
        raise AvforgeError(f"this experiment folder was trained with a different config ({k}: "
                           f"{a.get(k)!r} there, {b.get(k)!r} now); use a new --exp-dir", path=where)


class Trainer:
    """Owns model, optimizer and loop state for one experiment folder."""

    def __init__(self, model_factory: Callable[[], torch.nn.Module], train_set: Dataset, cfg: TrainConfig,
                 exp_dir, *, collate_fn: Callable, ctx: DistContext, val_set: Dataset | None = None,
                 run_info: dict | None = None, log_prefix: str = ""):
        self.cfg, self.ctx, self.collate_fn = cfg, ctx, collate_fn
        self.train_set, self.val_set = train_set, val_set
        self.exp_dir = Path(exp_dir)
        self.ckpt_root = self.exp_dir / "checkpoints"
        self.run_info = dict(run_info or {})
        self.log_prefix = log_prefix  # starts every per-epoch line (e.g. "sync " for the sync stage)
        if cfg.amp == "fp16" and ctx.device.type != "cuda":
            raise AvforgeError("train.amp=fp16 needs --device cuda (use bf16 or none on CPU)")
        self.micro = cfg.micro_batch(ctx.world_size)
        self.steps_per_epoch = (len(train_set) // ctx.world_size) // self.micro // cfg.grad_accum
        if self.steps_per_epoch == 0:
            raise AvforgeError(f"training set has {len(train_set)} clips, fewer than one batch "
                               f"(train.batch_size={cfg.batch_size})")
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.warmup_steps = int(round(cfg.warmup_epochs * self.steps_per_epoch))

        seed_everything(cfg.seed)  # identical initial weights on every rank and every run
        self.model = model_factory().to(ctx.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.state = {"epoch": 0, "step_in_epoch": 0, "step": 0, "amp": cfg.amp != "none",
                      "history": [], "epoch_sums": {}, "epoch_steps": 0}
        self._restore_or_start()
        self.net = self.model
        if ctx.distributed:
            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids,
                                               find_unused_parameters=cfg.find_unused_parameters)
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and self.state["amp"])
        if self.state.get("scaler"):
            self.scaler.load_state_dict(self.state["scaler"])

    # ------------------------------------------------------------------ resume
    def _restore_or_start(self) -> None:
        if self.ctx.is_main:
            ckpt.remove_partial(self.ckpt_root)
        barrier(self.ctx)
        found = ckpt.list_checkpoints(self.ckpt_root)
        if not found:
            seed_everything(self.cfg.seed + self.ctx.rank)  # dropout differs between ranks
            return
        saved = ckpt.load_training_state(found[-1], self.model, self.optimizer, self.ctx.rank)
        if "config" in self.run_info and "config" in saved:
            _check_same_config(saved["config"], self.run_info["config"], found[-1])
        if saved.get("world_size") != self.ctx.world_size:
            raise AvforgeError(f"checkpoint was written by {saved.get('world_size')} process(es), "
                               f"this run has {self.ctx.world_size}; resume with the same number", path=found[-1])
        self.state = {k: saved[k] for k in self.state}
        self.state["scaler"] = saved.get("scaler")
        if self.ctx.is_main:
            print(f"resuming from {found[-1]} (epoch {self.state['epoch']}, step {self.state['step']})",
                  file=sys.stderr)

    def _save(self) -> None:
        check_replicas_in_sync(self.model, self.ctx)
        state = {**self.run_info, **self.state, "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None}
        ckpt.save_checkpoint(self.ckpt_root, self.state["step"], self.model, self.optimizer, state, self.ctx,
                             keep=self.cfg.keep_checkpoints)

    # ------------------------------------------------------------------ loop
    def _loader(self, epoch: int) -> DataLoader:
        start = self.state["step_in_epoch"] * self.cfg.grad_accum * self.micro
        sampler = ResumableSampler(self.train_set, world_size=self.ctx.world_size, rank=self.ctx.rank,
                                   seed=self.cfg.seed, start_index=start)
        sampler.set_epoch(epoch)
        if hasattr(self.train_set, "set_epoch"):  # e.g. FeatureDataset: random crops keyed by epoch
            self.train_set.set_epoch(epoch)
        # A private generator: creating the iterator must not draw from the global RNG.
        gen = torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch)
        return DataLoader(self.train_set, batch_size=self.micro, sampler=sampler, drop_last=True,
                          collate_fn=self.collate_fn, num_workers=self.cfg.num_workers, generator=gen)

    def _autocast(self):
        dtype = torch.float16 if self.cfg.amp == "fp16" else torch.bfloat16
        return torch.autocast(self.ctx.device.type, dtype=dtype, enabled=self.state["amp"])

    def _step(self, batches) -> dict | None:
        """One optimizer step over ``grad_accum`` micro-batches; None when skipped (non-finite loss)."""
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        bad = False
        for i in range(self.cfg.grad_accum):
            batch = next(batches)
            if bad:
                continue  # consume the data anyway: data order stays a function of (seed, epoch)
            last = i == self.cfg.grad_accum - 1
            sync = contextlib.nullcontext() if last or not self.ctx.distributed else self.net.no_sync()
            with sync:
                batch = batch.to(self.ctx.device)
                with self._autocast():
                    out = self.net(batch)
                    losses = self.model.loss(out, batch)
                total = losses["total"].float()
                bad = any_true(not bool(torch.isfinite(total)), self.ctx)
                if bad:
                    if last and self.ctx.distributed:  # let DDP finish this iteration's reduction
                        sum(p.sum() * 0.0 for p in self.model.parameters()).backward()
                    continue
                self.scaler.scale(total / self.cfg.grad_accum).backward()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) / self.cfg.grad_accum
        if bad:
            self.optimizer.zero_grad(set_to_none=True)
            return None
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return sums

    def _on_nonfinite(self, nonfinite_run: int) -> None:
        st = self.state
        if st["amp"]:
            st["amp"] = False
            if self.scaler.is_enabled():
                self.scaler = torch.amp.GradScaler("cuda", enabled=False)
            event = {"event": "amp_disabled", "epoch": st["epoch"] + 1, "step": st["step"],
                     "reason": "non-finite loss under AMP; step skipped, continuing in fp32"}
        else:
            if nonfinite_run >= MAX_NONFINITE_FP32_STEPS:
                raise AvforgeError(f"loss is not finite in fp32 for {nonfinite_run} steps in a row "
                                   f"(step {st['step']}); lower train.lr or check the features")
            event = {"event": "nonfinite_step_skipped", "epoch": st["epoch"] + 1, "step": st["step"]}
        st["history"].append(event)
        if self.ctx.is_main:
            print(f"warning: {event}", file=sys.stderr)

    def _validate(self) -> dict:
        """Mean losses over the validation set (rank 0; others wait)."""
        means: dict[str, float] = {}
        if self.ctx.is_main:
            loader = DataLoader(self.val_set, batch_size=self.micro, shuffle=False, collate_fn=self.collate_fn,
                                num_workers=self.cfg.num_workers, generator=torch.Generator().manual_seed(0))
            self.model.eval()
            n = 0
            with torch.no_grad():
                for batch in loader:
                    batch = batch.to(self.ctx.device)
                    with self._autocast():
                        losses = self.model.loss(self.model(batch), batch)
                    for k, v in losses.items():
                        means[k] = means.get(k, 0.0) + float(v)
                    n += 1
            self.model.train()
            means = {k: v / max(n, 1) for k, v in means.items()}
        barrier(self.ctx)
        return means

    def _epoch_means(self) -> dict:
        st = self.state
        keys = sorted(st["epoch_sums"])
        values = torch.tensor([st["epoch_sums"][k] for k in keys] + [float(st["epoch_steps"])], dtype=torch.float64)
        if self.ctx.distributed:
            dist.all_reduce(values)
        count = max(values[-1].item(), 1.0)
        return {k: values[i].item() / count for i, k in enumerate(keys)}

    def _write_metrics(self) -> None:
        if self.ctx.is_main:
            write_jsonl(self.exp_dir / "metrics.jsonl", self.state["history"])

    def fit(self) -> list[dict]:
        """Train until ``cfg.epochs``; returns the metric history (one record per epoch + events)."""
        cfg, st = self.cfg, self.state
        self.model.train()
        nonfinite_run = 0
        while st["epoch"] < cfg.epochs:
            epoch, t0 = st["epoch"], time.time()
            batches = iter(self._loader(epoch))
            bar = tqdm(total=self.steps_per_epoch, initial=st["step_in_epoch"], desc=f"{self.log_prefix}epoch {epoch + 1}/{cfg.epochs}",
                       disable=(not self.ctx.is_main) or None, leave=False, mininterval=1.0)
            while st["step_in_epoch"] < self.steps_per_epoch:
                lr = lr_at(st["step"], self.total_steps, self.warmup_steps, cfg)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                sums = self._step(batches)
                if sums is None:
                    nonfinite_run += 1
                    self._on_nonfinite(nonfinite_run)
                else:
                    nonfinite_run = 0
                    for k, v in sums.items():
                        st["epoch_sums"][k] = st["epoch_sums"].get(k, 0.0) + v
                    st["epoch_steps"] += 1
                    bar.set_postfix(loss=f"{sums['total']:.4f}", refresh=False)
                st["step"] += 1
                st["step_in_epoch"] += 1
                bar.update(1)
                if (cfg.save_every_steps and st["step"] % cfg.save_every_steps == 0
                        and st["step_in_epoch"] < self.steps_per_epoch):
                    self._save()
            bar.close()
            record = {"epoch": epoch + 1, "step": st["step"], "lr": lr, "amp": st["amp"],
                      "train": self._epoch_means(), "seconds": round(time.time() - t0, 3)}
            if self.val_set is not None and len(self.val_set):
                record["val"] = self._validate()
            st["history"].append(record)
            st.update(epoch=epoch + 1, step_in_epoch=0, epoch_sums={}, epoch_steps=0)
            self._save()
            self._write_metrics()
            if self.ctx.is_main:
                val = f" val {record['val']['total']:.4f}" if "val" in record else ""
                print(f"{self.log_prefix}epoch {epoch + 1}/{cfg.epochs} step {st['step']} loss {record['train'].get('total', float('nan')):.4f}"
                      f"{val} lr {lr:.2e} ({record['seconds']:.1f} s)", flush=True)
        self._write_metrics()
        return st["history"]
