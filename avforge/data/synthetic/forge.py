"""Word-level forgeries: pick word spans and re-synthesise them with other words.

A ``Replacement`` holds new speech fitted exactly into one span of the source clip: its audio
(for ``audio_modified`` / ``both_modified``) and its phonemes (whose visemes drive the lips for
``visual_modified`` / ``both_modified``).

Two families (``SynthConfig.forgery``):
- ``artefacts``: the new words come in a slightly different voice and carry generator artefacts
  whose size ``strength`` (1 - 0.7 * difficulty) sets: pitch mismatch, loudness jump, muffling,
  noise-floor change (and, in ``generate``, a blurred, tinted mouth).
- ``mismatch``: the new words come in the speaker's own voice at its own level and noise floor,
  chosen among candidates for the length closest to the span (little time-stretching), so each
  modality alone looks and sounds real; only disagreement between lips and speech is evidence.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from avforge.data.synthetic.script import random_text
from avforge.data.synthetic.speech import SAMPLE_RATE, Timed, Utterance, Voice, synthesize

MIN_SEGMENT_S, MAX_SEGMENT_S = 0.2, 1.5
_FADE_SAMPLES = 48  # 3 ms ramps at splice edges


@dataclass(frozen=True)
class Replacement:
    """New speech for the fake segment [start_s, end_s) of a clip."""

    start_s: float
    end_s: float
    old_text: str
    new_text: str
    wave: np.ndarray  # (end_idx - start_idx,) float32, 16 kHz
    phonemes: tuple[Timed, ...]  # clip seconds, inside the segment

    @property
    def start_idx(self) -> int:
        return int(round(self.start_s * SAMPLE_RATE))

    @property
    def end_idx(self) -> int:
        return self.start_idx + len(self.wave)


def choose_spans(rng: np.random.Generator, words: tuple[Timed, ...], n_spans: int,
                 max_words: int) -> list[tuple[int, int]]:
    """Up to ``n_spans`` non-adjacent runs of consecutive words [i, j] lasting 0.2-1.5 s, in time order."""
    candidates = [(i, j) for i in range(len(words)) for j in range(i, min(len(words), i + max_words))
                  if MIN_SEGMENT_S <= words[j].end_s - words[i].start_s <= MAX_SEGMENT_S]
    if not candidates and words:  # fall back to the single longest word
        k = int(np.argmax([w.end_s - w.start_s for w in words]))
        candidates = [(k, k)]
    chosen: list[tuple[int, int]] = []
    for c in rng.permutation(len(candidates)):
        i, j = candidates[c]
        if all(j < a - 1 or i > b + 1 for a, b in chosen):
            chosen.append((i, j))
            if len(chosen) == n_spans:
                break
    return sorted(chosen)


def _fit(wave: np.ndarray, n_samples: int) -> tuple[np.ndarray, int]:
    """Centre-pad or crop ``wave`` to ``n_samples``; returns the fitted wave and the shift applied."""
    out = np.zeros(n_samples, np.float32)
    shift = (n_samples - len(wave)) // 2
    src0, dst0 = max(0, -shift), max(0, shift)
    n = min(len(wave) - src0, n_samples - dst0)
    out[dst0:dst0 + n] = wave[src0:src0 + n]
    ramp = np.linspace(0, 1, min(_FADE_SAMPLES, n_samples // 2), dtype=np.float32)
    out[:len(ramp)] *= ramp
    out[n_samples - len(ramp):] *= ramp[::-1]
    return out, shift


MISMATCH_CANDIDATES = 4  # texts tried per span in the mismatch family (the best-fitting one is kept)
CONTEXT_WORDS = 2  # mismatch family: source words spoken before and after the new ones (sentence prosody)


def _speak(new_text: str, voice: Voice, before: list[str], after: list[str]) -> tuple[Utterance, list[Timed]]:
    """``new_text`` spoken between the context words; returns the utterance and the new words'
    non-pause phonemes (utterance seconds). Falls back to no context if espeak merges words."""
    n_new = len(new_text.split())
    utt = synthesize(" ".join(before + [new_text] + after), voice)
    begin_s, end_s = 0.0, utt.duration_s
    if (before or after) and len(utt.words) == len(before) + n_new + len(after):
        begin_s, end_s = utt.words[len(before)].start_s, utt.words[len(before) + n_new - 1].end_s
    elif before or after:
        utt = synthesize(new_text, voice)
    spoken = [p for p in utt.phonemes if not p.label.startswith("_") and begin_s <= p.start_s < end_s]
    return utt, spoken


def _spoken_s(spoken: list[Timed]) -> float:
    return spoken[-1].end_s - spoken[0].start_s if spoken else 1e-3


def make_replacement(rng: np.random.Generator, words: tuple[Timed, ...], span: tuple[int, int],
                     voice: Voice, strength: float, same_voice: bool = False) -> Replacement:
    """Different words, time-fitted into the span: spoken alone by a slightly different voice, or
    (``same_voice``) by the speaker's own voice inside a sentence with the span's neighbouring
    words (so its intonation fits), the best-fitting in length of a few candidate texts."""
    i, j = span
    start_s, end_s = round(words[i].start_s, 4), round(words[j].end_s, 4)
    old_text = " ".join(w.label for w in words[i:j + 1])
    target_s = end_s - start_s
    before, after = [], []
    if same_voice:
        before = [w.label for w in words[max(0, i - CONTEXT_WORDS):i]]
        after = [w.label for w in words[j + 1:j + 1 + CONTEXT_WORDS]]
        texts = [t for t in (random_text(rng, j - i + 1) for _ in range(MISMATCH_CANDIDATES)) if t != old_text]
        while not texts:
            texts = [t for t in [random_text(rng, j - i + 1)] if t != old_text]
        new_text = min(texts, key=lambda t: abs(np.log(_spoken_s(_speak(t, voice, before, after)[1]) / target_s)))
        fake_voice = voice
    else:
        new_text = old_text
        while new_text == old_text:
            new_text = random_text(rng, j - i + 1)
        pitch_jump = int(rng.choice([-1, 1]) * (4 + 16 * strength))
        fake_voice = replace(voice, pitch=int(np.clip(voice.pitch + pitch_jump, 0, 99)))
    for _ in range(2):  # synthesise, then once more at the rate that fits the span
        utt, spoken = _speak(new_text, fake_voice, before, after)
        fake_voice = replace(fake_voice, rate_wpm=int(np.clip(fake_voice.rate_wpm * _spoken_s(spoken) / target_s,
                                                              80, 450)))
    begin, end = int(spoken[0].start_s * SAMPLE_RATE), int(np.ceil(spoken[-1].end_s * SAMPLE_RATE))
    n_samples = int(round(end_s * SAMPLE_RATE)) - int(round(start_s * SAMPLE_RATE))
    wave, shift = _fit(utt.wave[begin:end], n_samples)
    offset_s = start_s + (shift - begin) / SAMPLE_RATE
    phonemes = tuple(Timed(p.label, max(start_s, p.start_s + offset_s), min(end_s, p.end_s + offset_s))
                     for p in spoken if p.end_s + offset_s > start_s and p.start_s + offset_s < end_s)
    return Replacement(start_s, end_s, old_text, new_text, wave, phonemes)


def splice_audio(wave: np.ndarray, floor: np.ndarray, replacements: list[Replacement],
                 strength: float, rng: np.random.Generator, clean: bool = False) -> np.ndarray:
    """A copy of ``wave`` whose spans hold the replacement speech: louder/softer, muffled, over
    another noise floor; or (``clean``) as it is, over the recording's own noise floor."""
    out = wave.copy()
    for rep in replacements:
        if clean:
            out[rep.start_idx:rep.end_idx] = rep.wave + floor[rep.start_idx:rep.end_idx]
            continue
        gain = 10.0 ** (rng.uniform(-1, 1) * 4.0 * strength / 20.0)
        speech = rep.wave * gain
        speech[1:] += 0.6 * strength * speech[:-1]  # one-tap low-pass: a vocoder-like muffle
        speech /= 1 + 0.6 * strength
        out[rep.start_idx:rep.end_idx] = speech + (1 - 0.7 * strength) * floor[rep.start_idx:rep.end_idx]
    return out
