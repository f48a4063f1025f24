"""Orchestration: speakers, clip groups (a real clip and its three fake variants), workers, output folder.

Every group draws from its own ``np.random.SeedSequence([seed, ..., group])`` and runs in a
fresh process, so the output does not depend on the number of workers. Clips are written into a hidden temporary folder
next to ``out`` which is renamed onto ``out`` only when all videos and the metadata are done.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from avforge.core.errors import AvforgeError
from avforge.core.fileio import read_json, write_json
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import ModifyType
from avforge.data.synthetic import forge, layout
from avforge.data.synthetic.face import FaceIdentity, FaceRenderer, Scene, apply_mouth_artefacts
from avforge.data.synthetic.layout import SynthVideo
from avforge.data.synthetic.photo_face import PhotoFaceRenderer, PhotoIdentity, load_portrait
from avforge.data.synthetic.script import Speech, compose_speech
from avforge.data.synthetic.speech import SAMPLE_RATE, Timed, Voice
from avforge.data.synthetic.visemes import viseme_tracks
from avforge.io.writer import write_video

CONFIG_NAME = "synth_config.json"
FORGERIES = ("artefacts", "mismatch")
FACES = ("drawn", "photo")  # face.py: painted faces, one per speaker; photo_face.py: a warped real portrait
# mismatch family, both_modified: the lips follow the new words through an imperfect lip-sync,
# leading or lagging the new audio by this many frames (120-200 ms)
LIPSYNC_ERROR_FRAMES = (3, 5)
VARIANTS = (ModifyType.REAL, ModifyType.VISUAL, ModifyType.AUDIO, ModifyType.BOTH)  # ~25 % real
_VOICES = ("en", "en-us", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us-nyc", "en-gb-x-gbclan")
_VARIANTS = ("", "+m1", "+m3", "+m7", "+f1", "+f2", "+f3", "+f4")


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the generated dataset (saved as ``synth_config.json``)."""

    n: int = 600  # videos
    seed: int = 0
    layout: str = "lavdf"
    difficulty: float = 0.5  # 0 easy .. 1 hard: weaker artefacts, more noise/motion, shorter segments
    min_duration_s: float = 4.0
    max_duration_s: float = 10.0
    size: int = 96  # frame side in pixels
    groups_per_speaker: int = 5  # each group = one real clip + its fake variants
    forgery: str = "artefacts"  # one of FORGERIES (see avforge/data/synthetic/forge.py)
    face: str = "drawn"  # one of FACES: which renderer draws the talking face
    # face photos animated by the photo renderer, speaker k's the (k mod n)-th (none: matplotlib's sample portrait)
    portraits: tuple[str, ...] = ()

    def __post_init__(self):
        if self.forgery not in FORGERIES:
            raise AvforgeError(f"unknown forgery family {self.forgery!r} (expected one of {list(FORGERIES)})")
        if self.face not in FACES:
            raise AvforgeError(f"unknown face renderer {self.face!r} (expected one of {list(FACES)})")
        if self.portraits and self.face != "photo":
            raise AvforgeError(f"portraits are animated by the photo renderer only (face is {self.face!r})")
        if self.layout not in layout.LAYOUTS:
            raise AvforgeError(f"unknown layout {self.layout!r} (expected one of {list(layout.LAYOUTS)})")
        if self.n < 1 or not 0.0 <= self.difficulty <= 1.0 or self.size < 32 or self.size % 2:
            raise AvforgeError("need n >= 1, 0 <= difficulty <= 1 and an even size >= 32")
        if not 1.0 <= self.min_duration_s <= self.max_duration_s:
            raise AvforgeError("need 1 <= min_duration_s <= max_duration_s")

    @property
    def n_groups(self) -> int:
        return -(-self.n // len(VARIANTS))

    @property
    def n_speakers(self) -> int:
        return -(-self.n_groups // self.groups_per_speaker)


@dataclass(frozen=True)
class Speaker:
    id: str  # "id00001"
    split: str
    face: FaceIdentity | PhotoIdentity
    voice: Voice


def _rng(cfg: SynthConfig, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, *key]))


def make_speakers(cfg: SynthConfig) -> list[Speaker]:
    """Speakers with their split: ~70/15/15 % train/dev/test, at least one test (and dev) speaker when possible."""
    n = cfg.n_speakers
    n_test = 0 if n < 2 else max(1, round(0.15 * n))
    n_dev = 0 if n < 3 else max(1, round(0.15 * n))
    order = _rng(cfg, 1).permutation(n)
    split_of = {int(k): ("test" if r >= n - n_test else "dev" if r >= n - n_test - n_dev else "train")
                for r, k in enumerate(order)}
    speakers = []
    for k in range(n):
        rng = _rng(cfg, 2, k)
        voice = Voice(str(rng.choice(_VOICES)) + str(rng.choice(_VARIANTS)), int(rng.integers(140, 191)),
                      int(rng.integers(30, 71)), int(rng.integers(30, 71)))
        if cfg.face == "photo":
            portrait = cfg.portraits[k % len(cfg.portraits)] if cfg.portraits else ""
            face = replace(PhotoIdentity.sample(rng), portrait=portrait)
        else:
            face = FaceIdentity.sample(rng)
        speakers.append(Speaker(f"id{k + 1:05d}", split_of[k], face, voice))
    return speakers


@dataclass(frozen=True)
class _Source:
    """The real clip of a group, and what its fake variants re-use."""

    speech: Speech
    floor: np.ndarray  # (S,) background noise of the recording
    wave: np.ndarray  # (S,) speech + floor
    renderer: FaceRenderer | PhotoFaceRenderer
    scene: Scene
    tracks: tuple[np.ndarray, np.ndarray]  # (T,) openness, (T,) width
    frames: np.ndarray  # (T, H, W, 3) uint8


def _source(cfg: SynthConfig, speaker: Speaker, rng: np.random.Generator) -> _Source:
    n_frames = int(round(rng.uniform(cfg.min_duration_s, cfg.max_duration_s) * VIDEO_GRID.fps))
    n_samples = int(round(n_frames * VIDEO_GRID.samples_per_frame(SAMPLE_RATE)))
    speech = compose_speech(rng, speaker.voice, n_samples)
    floor = (10.0 ** (-(50.0 - 15.0 * cfg.difficulty) / 20.0) * rng.standard_normal(n_samples)).astype(np.float32)
    if isinstance(speaker.face, PhotoIdentity):
        renderer = PhotoFaceRenderer(speaker.face, cfg.size, seed=int(speaker.id[2:]))
    else:
        renderer = FaceRenderer(speaker.face, cfg.size, seed=int(speaker.id[2:]))
    scene = Scene.sample(rng, n_frames, cfg.difficulty, renderer.margin)
    tracks = viseme_tracks(speech.phonemes, n_frames)
    return _Source(speech, floor, speech.wave + floor, renderer, scene, tracks, renderer.render(scene, *tracks))


def _forge(cfg: SynthConfig, src: _Source, mt: ModifyType, voice: Voice, rng: np.random.Generator):
    """(frames, wave, replacements) of one fake variant of ``src``."""
    strength = 1.0 - 0.7 * cfg.difficulty
    max_words = 1 + int(round(2 * (1 - cfg.difficulty)))
    spans = forge.choose_spans(rng, src.speech.words, int(rng.integers(1, 4)), max_words)
    mismatch = cfg.forgery == "mismatch"
    reps = [forge.make_replacement(rng, src.speech.words, span, voice, strength, same_voice=mismatch)
            for span in spans]
    frames, wave = src.frames, src.wave
    if mt.visual_fake and mismatch:  # same renderer, one continuous mouth track, no artefact
        lag_s = 0.0
        if mt.audio_fake:
            lag_s = float(rng.choice([-1, 1]) * rng.integers(LIPSYNC_ERROR_FRAMES[0], LIPSYNC_ERROR_FRAMES[1] + 1)
                          / VIDEO_GRID.fps)
        frames = src.renderer.render(src.scene, *viseme_tracks(_lip_phonemes(src, reps, lag_s), len(src.frames)))
    elif mt.visual_fake:  # lips follow the replacement speech inside the segments
        n_frames = len(src.frames)
        mask = VIDEO_GRID.segments_to_mask([(r.start_s, r.end_s) for r in reps], n_frames)
        fake_open, fake_width = viseme_tracks([p for r in reps for p in r.phonemes], n_frames)
        frames = src.renderer.render(src.scene, np.where(mask, fake_open, src.tracks[0]),
                                     np.where(mask, fake_width, src.tracks[1]))
        apply_mouth_artefacts(frames, src.renderer, src.scene, mask, strength, rng)
    if mt.audio_fake:
        wave = forge.splice_audio(src.wave, src.floor, reps, strength, rng, clean=mismatch)
    return frames, wave, reps


def _lip_phonemes(src: _Source, reps: list, lag_s: float) -> list[Timed]:
    """The phonemes the lips articulate: the source's outside the spans, the new words' inside
    (shifted by ``lag_s`` and cut to the span), in time order."""
    def outside(p):
        mid = (p.start_s + p.end_s) / 2
        return not any(r.start_s <= mid < r.end_s for r in reps)
    inside = [Timed(p.label, max(r.start_s, p.start_s + lag_s), min(r.end_s, p.end_s + lag_s))
              for r in reps for p in r.phonemes]
    return sorted([p for p in src.speech.phonemes if outside(p)] + [p for p in inside if p.end_s > p.start_s],
                  key=lambda p: p.start_s)


def _describe(src: _Source, mt: ModifyType, reps: list, speaker: Speaker) -> SynthVideo:
    heard = list(src.speech.words)
    if mt.audio_fake:  # the transcript follows the audio
        # spans start at the first replaced word's start rounded to 0.1 ms: compare rounded starts
        heard = [w for w in heard if not any(r.start_s <= round(w.start_s, 4) < r.end_s for r in reps)]
        heard += [Timed(r.new_text, r.start_s, r.end_s) for r in reps]
    n_frames = len(src.frames)
    return SynthVideo(mt, tuple((r.start_s, r.end_s) for r in reps), n_frames, len(src.wave),
                      n_frames / VIDEO_GRID.fps, speaker.id, speaker.split,
                      tuple((w.label, round(w.start_s, 4), round(w.end_s, 4))
                            for w in sorted(heard, key=lambda w: w.start_s)),
                      tuple({"operation": "replace", "old_word": r.old_text, "new_word": r.new_text,
                             "start": r.start_s, "end": r.end_s} for r in reps))


def render_group(cfg: SynthConfig, speaker: Speaker, group: int, n_videos: int,
                 root: Path) -> list[tuple[SynthVideo, dict]]:
    """Render and write the first ``n_videos`` of the group's real clip and fake variants."""
    src = _source(cfg, speaker, _rng(cfg, 3, group))
    entries, real_key = [], None
    for v, mt in enumerate(VARIANTS[:n_videos]):
        frames, wave, reps = src.frames, src.wave, []
        if mt is not ModifyType.REAL:
            frames, wave, reps = _forge(cfg, src, mt, speaker.voice, _rng(cfg, 4, group, v))
        video = _describe(src, mt, reps, speaker)
        key, rel = layout.video_key(cfg.layout, video, group, group * len(VARIANTS) + v + 1)
        write_video(root / rel, frames, wave, VIDEO_GRID.fps, SAMPLE_RATE)
        real_key = key if mt is ModifyType.REAL else real_key
        entries.append((video, layout.make_record(cfg.layout, video, key, None if mt is ModifyType.REAL else real_key)))
    return entries


def _work(job) -> list[tuple[SynthVideo, dict]]:
    return render_group(*job)


def _prepare_out(out: Path, cfg: SynthConfig, force: bool) -> bool:
    """True when ``out`` already holds exactly this dataset; error if it holds something else."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return False
    try:
        saved = read_json(out / CONFIG_NAME)
        made = json.loads(json.dumps(asdict(cfg)))  # as saved: tuples are lists
        if isinstance(saved, dict) and {"face": "drawn", "portraits": [], **saved} == made:  # made before --face
            return True
    except AvforgeError:  # no (readable) config: not a dataset of ours
        pass
    if not force:
        raise AvforgeError("output folder is not empty and is not this synthetic dataset "
                           "(use --force to replace it)", path=out)
    return False


def generate(out, cfg: SynthConfig, *, workers: int | None = None, force: bool = False,
             progress: bool = True) -> Path:
    """Generate the dataset into ``out`` (atomically: all or nothing). Returns ``out``."""
    out = Path(out)
    if _prepare_out(out, cfg, force):
        return out
    if cfg.face == "photo":
        for path in cfg.portraits or ("",):
            load_portrait(path)  # a bad portrait: one error now, before any output
    speakers = make_speakers(cfg)
    jobs, tmp = [], out.parent / f".{out.name}.partial-{os.getpid()}"
    for g in range(cfg.n_groups):
        n_videos = min(len(VARIANTS), cfg.n - g * len(VARIANTS))
        jobs.append((cfg, speakers[g % len(speakers)], g, n_videos, tmp))
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    try:
        tmp.mkdir(parents=True)
        entries = []
        # one fresh process per group, forked from a pristine server: espeak-ng's state carries
        # over between utterances (see speech.py), so this keeps output independent of history
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        with tqdm(total=cfg.n, unit="video", disable=not progress, desc="synth") as bar, \
                ctx.Pool(workers, maxtasksperchild=1) as pool:
            for group_entries in pool.imap(_work, jobs):
                entries += group_entries
                bar.update(len(group_entries))
        layout.write_metadata(tmp, cfg.layout, entries)
        write_json(tmp / CONFIG_NAME, asdict(cfg), indent=1)
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
