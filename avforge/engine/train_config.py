"""TrainConfig: the optimisation keys of an experiment (the ``train:`` section of its YAML)."""
from __future__ import annotations

from dataclasses import dataclass

from avforge.core.errors import AvforgeError

AMP_MODES = ("none", "bf16", "fp16")
SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 8  # clips per optimizer step, summed over all processes (same maths on 1 or N GPUs)
    grad_accum: int = 1  # micro-batches per step on each process: saves memory, same maths
    lr: float = 1e-3  # peak learning rate (AdamW)
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # one of SCHEDULES; cosine decays to min_lr_ratio * lr
    min_lr_ratio: float = 0.01
    warmup_epochs: float = 1.0  # linear warm-up from 0, in epochs (fractions allowed)
    grad_clip: float = 1.0  # max global grad norm; 0 = off
    amp: str = "none"  # one of AMP_MODES; fp16 needs CUDA. Non-finite loss -> step skipped, AMP off
    seed: int = 0  # same seed -> same weights
    num_workers: int = 0  # DataLoader workers per process
    save_every_steps: int = 0  # extra checkpoints inside an epoch (0 = at epoch ends only)
    keep_checkpoints: int = 2  # newest checkpoint folders kept
    find_unused_parameters: bool = False  # DDP option, for models with parameters a config leaves unused

    def __post_init__(self):
        if self.amp not in AMP_MODES:
            raise AvforgeError(f"train.amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.schedule not in SCHEDULES:
            raise AvforgeError(f"train.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("epochs", "batch_size", "grad_accum", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise AvforgeError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise AvforgeError(f"train.lr must be > 0, got {self.lr}")
        if self.num_workers < 0 or self.save_every_steps < 0:
            raise AvforgeError("train.num_workers and train.save_every_steps must be >= 0")

    def micro_batch(self, world_size: int) -> int:
        """Clips per forward pass on one process."""
        per_step = world_size * self.grad_accum
        if self.batch_size % per_step:
            raise AvforgeError(f"train.batch_size ({self.batch_size}) must be divisible by processes x "
                               f"train.grad_accum ({world_size} x {self.grad_accum})")
        return self.batch_size // per_step
