"""The extraction loop: decode videos, encode them in batches, write the store; resumable and sharded.

Resuming is free: a video whose feature file is complete and valid is skipped, and files only
appear complete (see store.py). Sharding takes every n-th video of the list sorted by file key,
so shards are disjoint and stable across runs; under ``torchrun`` each rank takes shard
``RANK / WORLD_SIZE`` by itself (no process group is needed: ranks share nothing but the index,
which every rank writes with identical bytes by atomic rename).
"""
from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from avforge.core.errors import AvforgeError
from avforge.features.base import Encoder
from avforge.features.encode import ChunkConfig, decode_video, encode_clips, encode_decoded
from avforge.features.store import FeatureStore


@dataclass(frozen=True)
class VideoItem:
    file: str  # the dataset's file key (names the feature file)
    path: Path  # the video on disk


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"i/n"`` with 0 <= i < n."""
        try:
            index, count = (int(v) for v in str(text).split("/"))
        except ValueError:
            raise AvforgeError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
        if not 0 <= index < count:
            raise AvforgeError(f"--shard {text}: need 0 <= i < n")
        return cls(index, count)

    @classmethod
    def from_env(cls) -> "Shard":
        """This process's shard under torchrun (RANK / WORLD_SIZE), else the whole list."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))

    def take(self, items: list[VideoItem]) -> list[VideoItem]:
        return sorted(items, key=lambda it: it.file)[self.index::self.count]


@dataclass
class ExtractSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    media_s: float = 0.0  # total duration of the videos encoded in this run

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds else 0.0
        rtf = self.seconds / self.media_s if self.media_s else 0.0
        return (f"done {self.done}, skipped {self.skipped}, failed {self.failed} "
                f"({rate:.2f} clips/s, real-time factor {rtf:.4f})")


def _prefetched(items: list[VideoItem], load, workers: int, depth: int) -> Iterator[tuple[VideoItem, object]]:
    """(item, clip or exception) in order; up to ``depth`` videos decode ahead in threads."""
    if workers <= 0:
        for item in items:
            yield item, _attempt(load, item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append((item, pool.submit(_attempt, load, item)))
            if len(pending) >= depth:
                head, fut = pending.popleft()
                yield head, fut.result()
        while pending:
            head, fut = pending.popleft()
            yield head, fut.result()


def _attempt(load, item: VideoItem):
    try:
        return load(item.path)
    except Exception as exc:  # noqa: BLE001 - a bad video is recorded, the run goes on
        return exc


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, AvforgeError) else f"{type(exc).__name__}: {exc}"


def extract(items: list[VideoItem], encoder: Encoder, store: FeatureStore, *, shard: Shard = Shard(0, 1),
            batch_size: int = 1, workers: int = 2, progress: bool = True,
            chunk: ChunkConfig = ChunkConfig()) -> ExtractSummary:
    """Encode this shard's videos that are not yet done into ``store``; failures are recorded.

    A video that cannot be decoded or encoded is recorded and the run goes on; an error writing the
    store (disk full) stops it with an AvforgeError.

    Videos are read and encoded as ``avforge infer`` does (``encode.py``, same ``chunk`` plan);
    the chunks of ``batch_size`` videos share a forward pass."""
    mine = shard.take(items)
    todo = [it for it in mine if not store.has(it.file)]
    summary = ExtractSummary(skipped=len(mine) - len(todo))
    chunk = replace(chunk, missing_audio="error" if encoder.modality == "audio" else "silence")

    def load(path):
        return decode_video(path, chunk)

    start = time.perf_counter()
    desc = f"extract {encoder.name}" + (f" [shard {shard.index}/{shard.count}]" if shard.count > 1 else "")
    bar = tqdm(total=len(todo), unit="clip", desc=desc, disable=not progress, dynamic_ncols=True)
    batch: list = []

    def flush():
        try:
            feats = iter(encode_clips(encoder, [clip for _, video in batch for clip in video.clips]))
            parts = [[next(feats) for _ in video.clips] for _, video in batch]
        except Exception:  # noqa: BLE001 - retry one by one to pin the failure on one video
            parts = [None] * len(batch)
        for (item, video), part in zip(batch, parts):
            try:
                feats = encode_decoded(encoder, video, part)
            except Exception as exc:  # noqa: BLE001 - this video's failure, recorded
                store.record_failure(item.file, _reason(exc))
                summary.failed += 1
                continue
            try:  # a write error (disk full, permissions) is the store's, not the video's: stop the run
                store.save(item.file, feats)
            except OSError as exc:
                raise AvforgeError(f"cannot write features of {item.file!r} ({exc.strerror or exc}); "
                                   f"{summary.done} videos written before it are kept", path=store.root) from None
            summary.done += 1
            summary.media_s += video.num_frames / encoder.grid.fps
        bar.update(len(batch))
        batch.clear()

    for item, video in _prefetched(todo, load, workers, depth=max(2 * batch_size, 4)):
        if isinstance(video, BaseException):
            store.record_failure(item.file, _reason(video))
            summary.failed += 1
            bar.update(1)
            continue
        batch.append((item, video))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
