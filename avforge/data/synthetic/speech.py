"""Real speech from espeak-ng (the library bundled by ``espeakng-loader``) through ctypes.

espeak-ng keeps global state, so there is one engine per process (``Engine.get()``). That state
(filter memories) carries over from one utterance to the next and re-initialising does not reset
it: output is deterministic only for the same sequence of calls in a fresh process, which is how
the generator uses it (one fresh process per clip group). Its noise generator (the breath of the
``+f2`` / ``+f3`` variants) starts from the clock (a process a second later speaks otherwise), so
each utterance seeds it from its text and voice (``espeak_ng_SetRandSeed``). Synthesis runs in synchronous mode: the callback
collects 22,050 Hz samples and word/phoneme events (positions in ms), which become word and
phoneme timings in seconds. Audio is resampled to 16 kHz with soxr.
"""
from __future__ import annotations

import ctypes
import zlib
from dataclasses import dataclass

import espeakng_loader
import numpy as np
import soxr

from avforge.core.errors import AvforgeError

ESPEAK_RATE_HZ = 22050
SAMPLE_RATE = 16000

# espeak-ng's speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7
_RATE, _VOLUME, _PITCH, _RANGE, _WORDGAP = 1, 2, 3, 4, 7
_CHARS_UTF8 = 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: language/variant name plus prosody settings."""

    name: str = "en"  # e.g. "en-us+f3"
    rate_wpm: int = 160
    pitch: int = 50  # 0..100
    pitch_range: int = 50  # 0..100


@dataclass(frozen=True)
class Timed:
    """A word or phoneme with its time span in seconds."""

    label: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech: ``wave`` (S,) float32 at 16 kHz with word and phoneme timings."""

    wave: np.ndarray
    words: tuple[Timed, ...]
    phonemes: tuple[Timed, ...]

    @property
    def duration_s(self) -> float:
        return len(self.wave) / SAMPLE_RATE


class Engine:
    """The process-wide espeak-ng engine."""

    _instance: "Engine | None" = None

    def __init__(self):
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                           espeakng_loader.get_data_path().encode(),
                                           _INITIALIZE_PHONEME_EVENTS)
        if rate != ESPEAK_RATE_HZ:
            raise AvforgeError(f"espeak-ng failed to initialise (returned {rate})")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []  # type, ms, text pos, length, phoneme
        self._callback = _CALLBACK(self._collect)  # keep a reference: espeak holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self._voice: Voice | None = None

    @classmethod
    def get(cls) -> "Engine":
        if cls._instance is None:
            cls._instance = Engine()
        return cls._instance

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type in (_EVENT_WORD, _EVENT_PHONEME):
                label = bytes(ev.id.string).split(b"\0")[0] if ev.type == _EVENT_PHONEME else b""
                self._events.append((ev.type, ev.audio_position, ev.text_position - 1, ev.length, label))
            i += 1
        return 0

    def _set_voice(self, voice: Voice) -> None:
        if voice == self._voice:
            return
        if self._lib.espeak_SetVoiceByName(voice.name.encode()) != 0:
            raise AvforgeError(f"espeak-ng has no voice {voice.name!r}")
        for param, value in ((_RATE, voice.rate_wpm), (_PITCH, voice.pitch), (_RANGE, voice.pitch_range),
                             (_VOLUME, 100), (_WORDGAP, 0)):
            self._lib.espeak_SetParameter(param, int(value), 0)
        self._voice = voice

    def synthesize(self, text: str, voice: Voice) -> Utterance:
        """Speak ``text`` (one sentence, no punctuation: word labels come from text positions)."""
        self._set_voice(voice)
        self._chunks, self._events = [], []
        self._lib.espeak_ng_SetRandSeed(zlib.crc32(f"{voice}|{text}".encode()))  # breath noise
        data = text.encode("utf-8") + b"\0"
        err = self._lib.espeak_Synth(data, len(data), 0, 1, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise AvforgeError(f"espeak-ng synthesis failed (error {err}) for {text!r}")
        raw = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        wave = soxr.resample(raw.astype(np.float32) / 32768.0, ESPEAK_RATE_HZ, SAMPLE_RATE)
        return Utterance(wave.astype(np.float32), *_timings(self._events, text, len(wave) / SAMPLE_RATE))


def _timings(events, text: str, duration_s: float) -> tuple[tuple[Timed, ...], tuple[Timed, ...]]:
    """Turn espeak's (type, ms, text_pos, length, phoneme) events into word and phoneme spans."""
    phon_starts = [(ms / 1000.0, lab.decode("utf-8", "replace")) for t, ms, _, _, lab in events if t == _EVENT_PHONEME]
    phonemes = []
    for k, (start, label) in enumerate(phon_starts):
        end = phon_starts[k + 1][0] if k + 1 < len(phon_starts) else duration_s
        if end > start:
            phonemes.append(Timed(label, start, min(end, duration_s)))
    word_events = [(ms / 1000.0, pos, length) for t, ms, pos, length, _ in events if t == _EVENT_WORD]
    words = []
    for k, (event_s, pos, length) in enumerate(word_events):
        nxt = word_events[k + 1][0] if k + 1 < len(word_events) else duration_s
        # espeak fires word events a little early: a word spans its own non-pause phonemes
        inside = [p for p in phonemes if event_s <= p.start_s < nxt and not p.label.startswith("_")]
        if inside:
            words.append(Timed(text[pos:pos + length], inside[0].start_s, inside[-1].end_s))
    return tuple(words), tuple(phonemes)


def synthesize(text: str, voice: Voice = Voice()) -> Utterance:
    """Speak ``text`` with ``voice`` in this process's espeak-ng engine."""
    return Engine.get().synthesize(text, voice)
