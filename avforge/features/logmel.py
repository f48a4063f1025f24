"""Light audio front end for CPU-only runs: log-mel steps stacked per video frame (BA-TFD style)."""
from __future__ import annotations

import librosa
import numpy as np
import torch

from avforge.features.align import fit_length
from avforge.features.base import Encoder


class LogMelEncoder(Encoder):
    """``steps_per_frame`` log-mel spectra (``n_mels`` bins each) per 40 ms video frame.

    The hop is one ``steps_per_frame``-th of a video frame (10 ms at 16 kHz); the wave is padded
    so that step ``k`` is centred at ``(k + 0.5) * hop``: video frame ``i`` holds steps
    ``4i .. 4i+3`` exactly, and a clip of T frames gives T rows of ``n_mels * steps_per_frame``.
    Log energies are normalised per utterance (zero mean, unit variance per mel bin).
    """

    name = "logmel"
    modality = "audio"

    def __init__(self, n_mels: int = 64, steps_per_frame: int = 4, n_fft: int = 400,
                 sample_rate: int = 16000, device: str = "cpu"):
        super().__init__({"n_mels": n_mels, "steps_per_frame": steps_per_frame, "n_fft": n_fft,
                          "sample_rate": sample_rate}, device)
        self.n_mels, self.steps, self.n_fft, self.sample_rate = n_mels, steps_per_frame, n_fft, sample_rate
        self.frame_samples = int(round(self.grid.samples_per_frame(sample_rate)))
        self.hop = self.frame_samples // steps_per_frame
        self.dim = n_mels * steps_per_frame
        mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)  # (n_mels, n_fft//2+1)
        self.mel = torch.as_tensor(mel, dtype=torch.float32, device=self.device)
        self.window = torch.hann_window(n_fft, device=self.device)

    def _features(self, waves: torch.Tensor, n_frames: int) -> torch.Tensor:
        """(B, S) waves of exactly n_frames video frames -> (B, n_frames, dim)."""
        pad = self.n_fft // 2 - self.hop // 2
        x = torch.nn.functional.pad(waves, (pad, pad))
        spec = torch.stft(x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
        power = spec.abs() ** 2  # (B, F, 4T)
        logmel = torch.log(self.mel @ power + 1e-6)  # (B, n_mels, 4T)
        mean = logmel.mean(dim=-1, keepdim=True)
        std = logmel.std(dim=-1, keepdim=True, unbiased=False)
        logmel = (logmel - mean) / (std + 1e-5)
        steps = logmel.transpose(1, 2)[:, : n_frames * self.steps]  # (B, 4T, n_mels)
        return steps.reshape(waves.shape[0], n_frames, self.dim)

    @torch.inference_mode()
    def encode(self, clip) -> np.ndarray:
        n_frames = len(clip.frames)
        wave = fit_length(clip.wave, n_frames * self.frame_samples)
        x = torch.as_tensor(wave, device=self.device)[None]
        return self._features(x, n_frames)[0].float().cpu().numpy()
