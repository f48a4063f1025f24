"""Random sentences from a small word list, spoken into a clip timeline of fixed length."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avforge.core.errors import AvforgeError
from avforge.data.synthetic.speech import SAMPLE_RATE, Timed, Voice, synthesize

WORDS = tuple("""
the a my your our their this that some every one two three four five seven ten
man woman child friend teacher doctor farmer driver painter neighbour brother sister
house garden river city window table market station kitchen office village forest
car boat train letter book paper picture flower apple bread water coffee music
walks runs reads writes opens closes finds brings keeps takes makes sees hears paints
quickly slowly always never often today tomorrow yesterday later early again together
red green blue yellow small big old new happy quiet bright cold warm heavy strange
in on under near behind with without before after around through over
""".split())


@dataclass(frozen=True)
class Speech:
    """A clip's audio track: ``wave`` (S,) float32 16 kHz, word and phoneme timings in clip seconds."""

    wave: np.ndarray
    words: tuple[Timed, ...]
    phonemes: tuple[Timed, ...]


def random_text(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), n_words))


def _shift(items, offset_s: float) -> list[Timed]:
    return [Timed(t.label, t.start_s + offset_s, t.end_s + offset_s) for t in items]


def compose_speech(rng: np.random.Generator, voice: Voice, n_samples: int) -> Speech:
    """Sentences with short pauses between them, filling ``n_samples`` (the rest is silence)."""
    wave = np.zeros(n_samples, np.float32)
    words: list[Timed] = []
    phonemes: list[Timed] = []
    cursor = int(rng.uniform(0.1, max(0.1, min(0.5, 0.1 * n_samples / SAMPLE_RATE))) * SAMPLE_RATE)
    n_words = int(rng.integers(3, 9))
    while n_words > 0:
        utt = synthesize(random_text(rng, n_words), voice)
        spoken = [p for p in utt.phonemes if not p.label.startswith("_")]
        if not spoken:
            break
        begin = int(spoken[0].start_s * SAMPLE_RATE)
        end = int(np.ceil(spoken[-1].end_s * SAMPLE_RATE)) + int(0.05 * SAMPLE_RATE)
        if cursor + end - begin > n_samples:
            n_words -= 1  # a shorter sentence may still fit; stop when none does
            continue
        piece = utt.wave[begin:end]
        wave[cursor:cursor + len(piece)] = piece
        offset_s = (cursor - begin) / SAMPLE_RATE
        words += _shift(utt.words, offset_s)
        phonemes += _shift(spoken, offset_s)
        cursor += len(piece) + int(rng.uniform(0.15, 0.5) * SAMPLE_RATE)
        n_words = int(rng.integers(3, 9))
    if not words:
        raise AvforgeError(f"a {n_samples / SAMPLE_RATE:.2f} s clip is too short for one spoken word")
    return Speech(wave, tuple(words), tuple(phonemes))
