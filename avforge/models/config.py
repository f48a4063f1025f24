"""DetectorConfig: every model/loss/decode key, documented in one place (the defaults file).

Units: ``*_frames`` keys count frames of the 25 fps feature grid; everything else is unitless.
"""
from __future__ import annotations

from dataclasses import dataclass

from avforge.core.errors import AvforgeError

FUSIONS = ("discrepancy", "concat", "audio_only", "visual_only")
BOUNDARY_HEADS = ("anchor_free", "bm", "both")
PSEUDO_BOUNDARIES = ("all", "scored", "coarse", "none")
QUALITY_ON = ("positives", "overlapping")


@dataclass
class DetectorConfig:
    # --- per-modality temporal encoders (over cached features) ---
    dim: int = 128  # channel width of every hidden layer
    encoder_layers: int = 2  # masked residual temporal-conv blocks per modality
    kernel_size: int = 3  # temporal kernel of every conv block (odd)
    dropout: float = 0.1
    # --- cross-modal fusion ---
    fusion: str = "discrepancy"  # one of FUSIONS ("audio_only"/"visual_only" ignore the other stream)
    attn_window_frames: int = 4  # cross-attention looks +-this many steps around each step (per level)
    attn_heads: int = 4
    # --- lip-speech synchrony (avforge/models/sync.py) ---
    sync: bool = False  # sync towers whose offset curve (cosines at -K..K frames) joins every fused level
    sync_dim: int = 64  # sync embedding width
    sync_max_offset_frames: int = 6  # K: offsets of the curve, +-K frames (+-0.24 s)
    sync_kernel_size: int = 5  # temporal kernel of the sync towers (odd): they see +-3 * (k // 2) frames
    sync_hidden: int = 0  # > 0: each tower reads its frames through a two-layer MLP of this width
    # (0: one linear layer, as checkpoints before this option)
    sync_pretrain_epochs: int = 0  # epochs of self-supervised sync training on the REAL training clips
    # before the detector trains (avforge train does both; 0 = learn sync only with the detector)
    sync_pretrain_min_steps: int = 0  # the sync stage runs more epochs if needed to reach this many steps
    # (a dataset with a few hundred real clips gives a few steps per epoch at a large batch)
    # the sync stage also learns from the real spans of forged training clips (frames whose tower context
    # reaches no forged frame), not only from the real clips; w_sync keeps to the real clips
    sync_real_spans: bool = False
    sync_exclude_frames: int = 2  # InfoNCE: same-clip frames this close to the positive are ignored
    sync_temperature: float = 0.1
    sync_max_frames: int = 4096  # InfoNCE over at most this many random valid frames of a batch: its
    # cost grows with their square (LAV-DF's 32 x 512 frames would be 268 M logits; 4096: 17 M)
    w_sync: float = 0.0  # the same InfoNCE on the real clips of each detector batch (keeps sync honest)
    # --- temporal pyramid (fused hierarchically, coarse-to-fine) ---
    pyramid_strides: tuple[int, ...] = (1, 2, 4, 8)  # cumulative stride of each level; each x2 the last
    # Anchor-free assignment: level l takes a segment whose largest start/end distance (frames)
    # from a location lies in regress_ranges_frames[l] (ActionFormer rule). One pair per level.
    regress_ranges_frames: tuple[tuple[float, float], ...] = ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0),
                                                              (16.0, 100000.0))
    center_sample_radius: float = 1.5  # positives lie within radius * stride of a segment centre
    # --- heads ---
    boundary_head: str = "anchor_free"  # one of BOUNDARY_HEADS
    head_layers: int = 2  # masked conv layers in the anchor-free tower
    refine_boundaries: bool = True  # anchor-free: second stage refines start/end from boundary features
    refine_window_frames: int = 2  # the refiner samples features at +-this many frames around a boundary
    edge_head: bool = False  # auxiliary dense targets: does a segment start / end between frames k-1
    # and k, for every k (models/edges.py); sharpens the fused features the boundaries come from
    # auxiliary dense targets where spoken words start / end (data.train_words), from the same fused
    # features: real datasets' forgeries replace words, so their edges are word edges (models/edges.py)
    word_edges: bool = False
    # What pseudo-forgeries (data.splice_prob) teach besides that they are fake (class, attribution,
    # frames), one of PSEUDO_BOUNDARIES: "all" their edges (regression, refinement, quality, edge head);
    # "scored" the regression and the quality head (how well a proposal covers one), not where exact edges lie
    # (refinement, edge head); "coarse" the anchor-free regression only; "none" nothing: boundaries come from
    # labelled forgeries
    pseudo_boundaries: str = "all"
    bm_max_duration_frames: int = 64  # D of the boundary-matching map: rows are durations 1..D
    bm_dim: int = 32  # channels of the boundary-matching branch
    # --- loss weights and parameters ---
    w_cls: float = 1.0  # sigmoid focal loss on anchor-free locations
    w_reg: float = 1.0  # DIoU loss on start/end distances
    w_refine: float = 1.0  # L1 (frames) on refined boundaries at positive locations
    w_quality: float = 0.5  # BCE of the quality logit towards the refined segment's IoU (score = cls x quality)
    # Where the quality head learns, one of QUALITY_ON: "positives" (the locations assigned to a segment) or
    # "overlapping" (also every other location whose refined proposal overlaps a forged segment, towards its
    # best IoU): a location inside a forged span but at another pyramid level proposes part of it, and only
    # "overlapping" teaches the quality head to rank such partial proposals below the whole one
    quality_on: str = "positives"
    # the quality head also reads the mean features inside the refined segment and beside it (models/refine.py)
    quality_span: bool = False
    w_attr: float = 0.5  # 3-way modality attribution cross-entropy at positive locations
    w_frame: float = 1.0  # BCE on fused per-frame fake logits
    w_frame_modality: float = 1.0  # BCE on audio and visual per-frame logits (each)
    w_edges: float = 1.0  # class-balanced BCE of the edge head (model.edge_head)
    w_word_edges: float = 1.0  # class-balanced BCE of the word-edge head (model.word_edges)
    w_bm: float = 1.0  # boundary-matching map loss
    bm_loss: str = "mse"  # "mse" (BA-TFD) or "bce" on IoU targets
    w_contrastive: float = 0.1  # BA-TFD audio-visual contrastive loss
    contrastive_margin: float = 0.99
    w_video: float = 0.5  # BCE on the pooled video-level fake logit
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    # --- decoding (pre-NMS) ---
    decode_topk: int = 500  # proposals kept per clip before NMS (highest scores)
    decode_min_score: float = 0.001  # proposals below this score are dropped before top-k

    def __post_init__(self):
        self.pyramid_strides = tuple(int(s) for s in self.pyramid_strides)
        self.regress_ranges_frames = tuple((float(a), float(b)) for a, b in self.regress_ranges_frames)
        self.validate()

    def validate(self) -> None:
        if self.fusion not in FUSIONS:
            raise AvforgeError(f"model.fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.boundary_head not in BOUNDARY_HEADS:
            raise AvforgeError(f"model.boundary_head must be one of {BOUNDARY_HEADS}, got {self.boundary_head!r}")
        if self.pseudo_boundaries not in PSEUDO_BOUNDARIES:
            raise AvforgeError(f"model.pseudo_boundaries must be one of {PSEUDO_BOUNDARIES}, "
                               f"got {self.pseudo_boundaries!r}")
        if self.quality_on not in QUALITY_ON:
            raise AvforgeError(f"model.quality_on must be one of {QUALITY_ON}, got {self.quality_on!r}")
        if self.bm_loss not in ("mse", "bce"):
            raise AvforgeError(f"model.bm_loss must be 'mse' or 'bce', got {self.bm_loss!r}")
        strides = self.pyramid_strides
        if not strides or strides[0] != 1 or any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise AvforgeError(f"model.pyramid_strides must be 1, 2, 4, ... (got {list(strides)})")
        if len(self.regress_ranges_frames) != len(strides):
            raise AvforgeError("model.regress_ranges_frames needs one (low, high) pair per pyramid level")
        if self.kernel_size % 2 != 1:
            raise AvforgeError(f"model.kernel_size must be odd, got {self.kernel_size}")
        if self.sync_kernel_size < 1 or self.sync_kernel_size % 2 == 0:
            raise AvforgeError(f"model.sync_kernel_size must be odd, got {self.sync_kernel_size}")
        if self.sync_max_frames < 2:
            raise AvforgeError(f"model.sync_max_frames must be >= 2, got {self.sync_max_frames}")
        if min(self.sync_max_offset_frames, self.sync_pretrain_epochs, self.sync_pretrain_min_steps,
               self.sync_exclude_frames, self.sync_hidden) < 0:
            raise AvforgeError("model.sync_max_offset_frames, sync_pretrain_epochs, sync_pretrain_min_steps, "
                               "sync_exclude_frames and sync_hidden must be >= 0")
        if (self.sync_pretrain_epochs or self.w_sync or self.sync_real_spans) and not self.sync:
            raise AvforgeError("model.sync_pretrain_epochs / model.w_sync / model.sync_real_spans need model.sync: true")
        if self.sync and not (self.uses_audio and self.uses_visual):
            raise AvforgeError(f"model.sync needs both modalities (fusion {self.fusion!r} uses one)")
        if self.dim % self.attn_heads:
            raise AvforgeError(f"model.dim ({self.dim}) must be divisible by model.attn_heads ({self.attn_heads})")

    @property
    def uses_audio(self) -> bool:
        return self.fusion != "visual_only"

    @property
    def uses_visual(self) -> bool:
        return self.fusion != "audio_only"

    @property
    def uses_anchor_free(self) -> bool:
        return self.boundary_head in ("anchor_free", "both")

    @property
    def uses_bm(self) -> bool:
        return self.boundary_head in ("bm", "both")
