"""Wire an ExperimentConfig to data, features and the Detector, then train it."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from avforge.core.config import save_config, to_dict
from avforge.core.errors import AvforgeError
from avforge.core.types import ModifyType
from avforge.data.dataset import FeatureDataset, collate
from avforge.data.manifest import read_manifest
from avforge.data.words import read_words
from avforge.engine.config import ExperimentConfig
from avforge.engine.distributed import process_group
from avforge.engine.trainer import Trainer
from avforge.features.store import FeatureStore
from avforge.models.detector import build_detector
from avforge.models.sync import SyncPretrainModel, load_sync_weights

SYNC_DIR = "sync"  # the sync stage's own experiment folder inside the detector's


def open_store(root: str, missing: str) -> FeatureStore:
    """Open a feature store; ``missing`` is the error message when ``root`` is empty."""
    if not root:
        raise AvforgeError(missing)
    return FeatureStore(root)


def feature_dataset(manifest, visual: FeatureStore, audio: FeatureStore, max_frames: int | None,
                    seed: int = 0, real_only: bool = False, splice_prob: float = 0.0,
                    words_file: str = "", splice_at_words: bool = False) -> FeatureDataset:
    """Dataset of a manifest (``real_only``: its real videos; ``splice_prob``, ``splice_at_words``: pseudo-forgeries,
    ``words_file``: word timings, see FeatureDataset); every video must have features in both stores (checked
    up front)."""
    entries = read_manifest(manifest)
    if real_only:
        entries = [e for e in entries if e.record.modify_type is ModifyType.REAL]
    for store, name in ((visual, "visual"), (audio, "audio")):
        missing = store.missing(e.record.file for e in entries)
        if missing:
            raise AvforgeError(f"{len(missing)} video(s) of {manifest} have no {name} features, e.g. "
                               f"{missing[:3]} (run avforge extract first)", path=store.root)
    words = read_words(words_file) if words_file else None
    return FeatureDataset(entries, visual, audio, max_frames=max_frames, seed=seed, splice_prob=splice_prob,
                          words=words, splice_at_words=splice_at_words)


def _word_timings_note(cfg: ExperimentConfig, train_set: FeatureDataset) -> str:
    """One line: how many training videos have word timings, and what uses them."""
    if not cfg.data.train_words:
        return "model.word_edges: no word timings (data.train_words is not set), so no word-edge target"
    timed = sum(r.file in train_set.words for r in train_set.records)
    uses = ["word-edge targets"] if cfg.model.word_edges else []
    if cfg.data.splice_at_words and cfg.data.splice_prob > 0:
        uses.append("pseudo-forgeries at word boundaries (the others at random frames)")
    return (f"word timings ({cfg.data.train_words}) for {timed} of {len(train_set)} training videos: "
            f"{', '.join(uses) or 'unused (model.word_edges and data.splice_at_words are false)'}")


def _pretrain_sync(cfg: ExperimentConfig, sync_dir: Path, visual: FeatureStore, audio: FeatureStore, ctx,
                   run_info: dict) -> dict | None:
    """Self-supervised sync training on the real training clips (``model.sync_real_spans``: on the real spans
    of every training clip; ``model.sync_pretrain_epochs``, more if ``model.sync_pretrain_min_steps`` asks;
    resumable in ``sync_dir``); returns its final weights, or None when the config has no such stage."""
    m = cfg.model
    if not m.sync_pretrain_epochs:
        return None
    real_only = not m.sync_real_spans
    clips = feature_dataset(cfg.data.train_manifest, visual, audio, cfg.data.max_frames, cfg.train.seed,
                            real_only=real_only)
    clips_val = (feature_dataset(cfg.data.val_manifest, visual, audio, cfg.data.max_frames, cfg.train.seed,
                                 real_only=real_only) if cfg.data.val_manifest else None)
    plural = "s" * (len(clips) != 1)
    what = f"{len(clips)} real clip{plural}" if real_only else f"the real spans of {len(clips)} clip{plural}"
    per_step = ctx.world_size * cfg.train.grad_accum  # a batch must split evenly over these
    batch = min(cfg.train.batch_size, len(clips) // per_step * per_step)
    if batch < per_step:
        raise AvforgeError(f"the sync stage trains on {what}, fewer than one per process and accumulation step "
                           f"({per_step}); add real clips, set model.sync_real_spans=true or set "
                           "model.sync_pretrain_epochs=0", path=cfg.data.train_manifest)
    epochs = max(m.sync_pretrain_epochs, math.ceil(m.sync_pretrain_min_steps / (len(clips) // batch)))
    if ctx.is_main:
        more = f" (raised from {m.sync_pretrain_epochs} to reach {m.sync_pretrain_min_steps} steps)" \
            if epochs > m.sync_pretrain_epochs else ""
        print(f"sync stage: {epochs} epochs{more} on {what} (batch {batch})", flush=True)
    trainer = Trainer(lambda: SyncPretrainModel(visual.dim, audio.dim, m.sync_dim, m.sync_max_offset_frames,
                                                m.sync_exclude_frames, m.sync_temperature, m.sync_kernel_size,
                                                m.sync_max_frames, m.sync_hidden, m.sync_real_spans),
                      clips, replace(cfg.train, epochs=epochs, batch_size=batch), sync_dir,
                      collate_fn=collate, ctx=ctx, val_set=clips_val, run_info=run_info, log_prefix="sync ")
    trainer.fit()
    return trainer.model.state_dict()


def train_experiment(cfg: ExperimentConfig, exp_dir, device: str = "cpu") -> list[dict]:
    """Train (or resume) the experiment in ``exp_dir``; returns the metric history."""
    exp_dir = Path(exp_dir)
    visual = open_store(cfg.data.visual_store, "data.visual_store is not set (add --set data.visual_store=DIR)")
    audio = open_store(cfg.data.audio_store, "data.audio_store is not set (add --set data.audio_store=DIR)")
    if not cfg.data.train_manifest:
        raise AvforgeError("data.train_manifest is not set (add --set data.train_manifest=FILE)")
    train_set = feature_dataset(cfg.data.train_manifest, visual, audio, cfg.data.max_frames, cfg.train.seed,
                                splice_prob=cfg.data.splice_prob, words_file=cfg.data.train_words,
                                splice_at_words=cfg.data.splice_at_words)
    val_set = (feature_dataset(cfg.data.val_manifest, visual, audio, cfg.data.max_frames, cfg.train.seed)
               if cfg.data.val_manifest else None)
    with process_group(device) as ctx:
        run_info = {"config": to_dict(cfg),
                    "model_args": {"visual_dim": visual.dim, "audio_dim": audio.dim},
                    "features": {"visual": visual.spec.to_dict(), "audio": audio.spec.to_dict()},
                    "feature_storage": {"visual": visual.dtype.name, "audio": audio.dtype.name}}
        if ctx.is_main and (cfg.data.train_words or cfg.model.word_edges):
            print(_word_timings_note(cfg, train_set), flush=True)
        sync_weights = _pretrain_sync(cfg, exp_dir / SYNC_DIR, visual, audio, ctx, run_info)

        def detector():
            model = build_detector(cfg.model, visual.dim, audio.dim)
            if sync_weights is not None:
                load_sync_weights(model, sync_weights)
            return model
        trainer = Trainer(detector, train_set, cfg.train, exp_dir,
                          collate_fn=collate, ctx=ctx, val_set=val_set, run_info=run_info)
        if ctx.is_main:  # after the Trainer checked that a resumed folder holds the same config
            save_config(cfg, exp_dir / "config.yaml")
        return trainer.fit()
