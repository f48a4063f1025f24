"""Pseudo-forgeries made from a clip's own features: lips and speech that stop agreeing.

For one stream (audio or visual) a word-length span is replaced by the same stream of the same
clip from another moment, more than a word away; the other stream is left as it was. Nothing in
the replaced stream is foreign to the clip (same face or voice, same light, level and noise),
so the only evidence left is that the two streams no longer tell the same story there — the
evidence a visual-only forgery of a real dataset leaves when the real audio is kept. Training
on these teaches agreement instead of the artefacts of one forgery generator.

The donor span is the best of a few random candidates: its content must differ from what it
replaces (by at least half of what two random frames of the clip differ, so a pause pasted over
a pause, which changes nothing, is never labelled fake) and, among those, its first and last frames
continue the surrounding frames most smoothly (no jump at the edges to learn instead).
Indices are frames of the features' grid; the dataset turns them into seconds.

With the clip's word timings (``words``, from the dataset's transcripts; ``avforge manifest
--words``), the span is one or two whole words and the donor starts where another word starts:
a pseudo-forgery then begins and ends where LAV-DF's and AV-Deepfake1M's forgeries do, at word
boundaries, and the lips (or speech) pasted in are another word's from its first frame. Without
them, or when no word run fits, the span starts at a random frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPAN_FRAMES = (5, 20)  # 0.2-0.8 s at 25 fps: one or two words
MIN_SHIFT_FRAMES = 10  # the donor starts >= span + 0.4 s away: another word, not the same one late
MARGIN_FRAMES = 2  # kept between a pseudo-forgery and any forged frame of the clip
CANDIDATES = 8  # donor spans tried; the smoothest of those that differ enough wins
DIFFERENT_ENOUGH = 0.5  # a donor must differ from the span by >= this share of the clip's typical frame distance
STREAMS = ("audio", "visual")


@dataclass
class Splice:
    """One pseudo-forgery: frames [start, stop) of ``stream`` now come from [donor, donor + stop - start)."""

    stream: str
    start: int
    stop: int
    donor: int


def _typical_distance(x: np.ndarray, usable: np.ndarray, rng: np.random.Generator, pairs: int = 64) -> float:
    """Mean L2 distance between random pairs of usable frames: how different two moments of the clip are."""
    idx = np.flatnonzero(usable)
    i, j = rng.choice(idx, pairs), rng.choice(idx, pairs)
    return float(np.linalg.norm(x[i] - x[j], axis=1).mean())


def _edge_jump(x: np.ndarray, start: int, stop: int, donor: int) -> float:
    """How much the pasted span jumps away from the frames around it (L2 at both edges)."""
    span = stop - start
    jump = 0.0
    if start > 0:
        jump += float(np.linalg.norm(x[start - 1] - x[donor]))
    if stop < len(x):
        jump += float(np.linalg.norm(x[stop] - x[donor + span - 1]))
    return jump


def _word_runs(words: np.ndarray, counts: np.ndarray, lo: int, hi: int) -> list[tuple[int, int]]:
    """Runs [start, stop) of one or two consecutive words inside frames [lo, hi), of a pseudo-forgery's
    length, touching no forgery (``counts``: cumulative count of frames near one)."""
    runs = []
    for i in range(len(words)):
        for j in (i, i + 1):
            if j < len(words):
                a, b = int(words[i, 0]), int(words[j, 1])
                if (SPAN_FRAMES[0] <= b - a <= SPAN_FRAMES[1] and lo <= a and b <= hi
                        and counts[b] == counts[a]):
                    runs.append((a, b))
    return runs


def _free_starts(counts: np.ndarray, span: int) -> np.ndarray:
    """(T - span + 1,) bool: frames [i, i + span) touch no forgery."""
    return counts[span:] - counts[:-span] == 0 if len(counts) > span else np.zeros(0, dtype=bool)


def plan_splice(features: dict[str, np.ndarray], forged: np.ndarray, window: tuple[int, int],
                rng: np.random.Generator, words: np.ndarray | None = None) -> Splice | None:
    """Choose one pseudo-forgery inside frames ``window`` = (lo, hi) of a clip; None if none fits.

    ``features``: stream name -> (T, C) array; ``forged``: (T,) bool, frames any real forgery touched
    (a pseudo-forgery and its donor keep ``MARGIN_FRAMES`` away from them); ``words``: optional (W, 2)
    frame runs [start, stop) of the clip's words in time order (module docstring).
    """
    stream = STREAMS[int(rng.integers(len(STREAMS)))]
    x = features[stream]
    n = len(x)
    lo, hi = window[0], min(window[1], n)
    near_forged = np.convolve(forged.astype(np.int64), np.ones(2 * MARGIN_FRAMES + 1, dtype=np.int64), "same") > 0
    counts = np.concatenate(([0], np.cumsum(near_forged)))
    runs = _word_runs(words, counts, lo, hi) if words is not None and len(words) else []
    if runs:
        start, stop = runs[int(rng.integers(len(runs)))]
        span = stop - start
        free = _free_starts(counts, span)
    else:
        span = int(rng.integers(SPAN_FRAMES[0], SPAN_FRAMES[1] + 1))
        free = _free_starts(counts, span)
        starts = lo + np.flatnonzero(free[lo:max(lo, hi - span + 1)])
        if not len(starts):
            return None
        start = int(rng.choice(starts))
    donors = np.flatnonzero(free & (np.abs(np.arange(len(free)) - start) >= span + MIN_SHIFT_FRAMES))
    if runs:  # another word's lips (or speech) from its first frame, where one fits
        at_words = np.intersect1d(donors, words[:, 0])
        donors = at_words if len(at_words) else donors
    if not len(donors):
        return None
    donors = rng.choice(donors, min(CANDIDATES, len(donors)), replace=False)
    enough = DIFFERENT_ENOUGH * _typical_distance(x, ~near_forged, rng)
    original = x[start:start + span]
    best, best_jump = None, np.inf
    for d in donors:
        d = int(d)
        if np.linalg.norm(x[d:d + span] - original, axis=1).mean() <= enough:
            continue
        jump = _edge_jump(x, start, start + span, d)
        if jump < best_jump:
            best, best_jump = d, jump
    return None if best is None else Splice(stream, start, start + span, best)


def apply_splice(features: dict[str, np.ndarray], splice: Splice) -> dict[str, np.ndarray]:
    """A copy of ``features`` with the splice's span of its stream replaced by the donor span."""
    out = dict(features)
    x = features[splice.stream].copy()
    span = splice.stop - splice.start
    x[splice.start:splice.stop] = features[splice.stream][splice.donor:splice.donor + span]
    out[splice.stream] = x
    return out
