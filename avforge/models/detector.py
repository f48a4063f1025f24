"""The detector: modality encoders -> pyramid fusion -> heads; loss and decode entry points."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from avforge.core.batch import Batch
from avforge.core.errors import AvforgeError
from avforge.core.types import MODALITIES, Proposals
from avforge.models import losses
from avforge.models.config import DetectorConfig
from avforge.models.decode import decode_proposals
from avforge.models.edges import EdgeHead, edge_loss, edge_targets, word_edge_targets
from avforge.models.fusion import PyramidFusion
from avforge.models.heads import AnchorFreeHead, BoundaryMatchingHead, FrameHeads, VideoHead
from avforge.models.layers import ModalityEncoder, apply_mask
from avforge.models.outputs import DetectorOutput
from avforge.models.refine import BoundaryRefiner
from avforge.models.sync import SyncNet, sync_nce_loss
from avforge.models.targets import anchor_free_targets, bm_iou_targets, make_points, segments_to_frames


class Detector(nn.Module):
    """Audio-visual temporal forgery detector over cached per-frame features (25 fps grid)."""

    def __init__(self, cfg: DetectorConfig, visual_dim: int, audio_dim: int):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.visual_dim, self.audio_dim = visual_dim, audio_dim
        levels = len(cfg.pyramid_strides)
        enc = dict(dim=cfg.dim, layers=cfg.encoder_layers, levels=levels, kernel_size=cfg.kernel_size,
                   dropout=cfg.dropout)
        self.visual_encoder = ModalityEncoder(visual_dim, **enc) if cfg.uses_visual else None
        self.audio_encoder = ModalityEncoder(audio_dim, **enc) if cfg.uses_audio else None
        self.fusion = PyramidFusion(cfg)
        self.frame_heads = FrameHeads(cfg.dim, has_audio=cfg.uses_audio, has_visual=cfg.uses_visual)
        self.video_head = VideoHead(cfg.dim)
        self.anchor_free = (AnchorFreeHead(cfg.dim, cfg.head_layers, cfg.kernel_size, cfg.pyramid_strides)
                            if cfg.uses_anchor_free else None)
        self.refiner = (BoundaryRefiner(cfg.dim, cfg.refine_window_frames, cfg.quality_span)
                        if cfg.uses_anchor_free and cfg.refine_boundaries else None)
        self.edges = EdgeHead(cfg.dim, cfg.kernel_size) if cfg.edge_head else None
        self.word_edges = EdgeHead(cfg.dim, cfg.kernel_size) if cfg.word_edges else None
        self.bm = BoundaryMatchingHead(cfg.dim, cfg.bm_dim, cfg.bm_max_duration_frames) if cfg.uses_bm else None
        self.sync = SyncNet(visual_dim, audio_dim, cfg.sync_dim, cfg.sync_max_offset_frames,
                            cfg.sync_kernel_size, cfg.sync_hidden) if cfg.sync else None
        self.sync_proj = (nn.Sequential(nn.Linear(self.sync.n_offsets, cfg.dim), nn.GELU(), nn.Linear(cfg.dim, cfg.dim))
                          if cfg.sync else None)

    def _check(self, batch: Batch) -> None:
        for name, dim in (("visual", self.visual_dim), ("audio", self.audio_dim)):
            got = getattr(batch, name).shape[-1]
            if got != dim:
                raise AvforgeError(f"{name} features have {got} channels, the model expects {dim}")

    def forward(self, batch: Batch) -> DetectorOutput:
        self._check(batch)
        mask = batch.mask.bool()
        n_levels = len(self.cfg.pyramid_strides)
        vis, masks = (self.visual_encoder(batch.visual.float(), mask) if self.visual_encoder else (None, None))
        aud, a_masks = (self.audio_encoder(batch.audio.float(), mask) if self.audio_encoder else (None, None))
        masks = masks or a_masks
        fused = self.fusion(vis or [None] * n_levels, aud or [None] * n_levels, masks)
        sync = {}
        if self.sync is not None:
            sync["sync_visual"], sync["sync_audio"] = self.sync(batch.visual, batch.audio, mask)
            sync["sync_curve"] = self.sync.offset_curve(sync["sync_visual"], sync["sync_audio"], mask)
            fused = add_to_levels(fused, masks, apply_mask(self.sync_proj(sync["sync_curve"]), mask), mask,
                                  self.cfg.pyramid_strides)
        frame, audio_logits, visual_logits = self.frame_heads(fused[0], vis[0] if vis else None,
                                                              aud[0] if aud else None)
        out = DetectorOutput(
            mask=mask, frame_logits=frame, audio_logits=audio_logits, visual_logits=visual_logits,
            video_logits=self.video_head(fused[0], mask),
            visual_embed=vis[0] if vis else None, audio_embed=aud[0] if aud else None, **sync)
        if self.anchor_free is not None:
            points, strides, levels = make_points([f.shape[1] for f in fused], self.cfg.pyramid_strides, mask.device)
            out.point_frames, out.point_strides, out.point_levels = points, strides, levels
            out.point_mask = torch.cat(masks, dim=1)
            out.cls_logits, out.reg_frames, out.attr_logits = self.anchor_free(fused, masks, audio_logits,
                                                                               visual_logits)
            if self.refiner is not None:
                out.boundaries_frames, out.quality_logits = self.refiner(fused[0], mask, points, out.reg_frames)
        if self.edges is not None:
            out.edge_logits = self.edges(fused[0], mask)
        if self.word_edges is not None and self.training:
            out.word_edge_logits = self.word_edges(fused[0], mask)
        if self.bm is not None:
            out.bm_logits = self.bm(fused[0], mask)
        return out

    def loss(self, out: DetectorOutput, batch: Batch) -> dict[str, torch.Tensor]:
        """Weighted loss terms and their sum under "total" (needs a labelled batch)."""
        if batch.frame_labels is None or batch.segments is None:
            raise AvforgeError("loss needs a labelled batch (frame labels and segments)")
        cfg, mask = self.cfg, out.mask
        terms = {
            "frame": cfg.w_frame * losses.masked_bce(out.frame_logits, batch.frame_labels, mask),
            "frame_audio": cfg.w_frame_modality * losses.masked_bce(out.audio_logits, batch.audio_labels, mask),
            "frame_visual": cfg.w_frame_modality * losses.masked_bce(out.visual_logits, batch.visual_labels, mask),
        }
        video_labels = torch.tensor([float(len(s) > 0) for s in batch.segments], device=mask.device)
        terms["video"] = cfg.w_video * losses.masked_bce(out.video_logits, video_labels, torch.ones_like(video_labels))
        if out.visual_embed is not None and out.audio_embed is not None and cfg.w_contrastive > 0:
            terms["contrastive"] = cfg.w_contrastive * losses.av_contrastive_loss(
                out.visual_embed, out.audio_embed, batch.frame_labels, mask, cfg.contrastive_margin)
        if out.sync_curve is not None and cfg.w_sync > 0:
            real_clip = (video_labels == 0).unsqueeze(1) & mask
            terms["sync"] = cfg.w_sync * sync_nce_loss(out.sync_visual, out.sync_audio, real_clip,
                                                       cfg.sync_exclude_frames, cfg.sync_temperature,
                                                       cfg.sync_max_frames)
        segs_frames = [segments_to_frames(s).to(mask.device) for s in batch.segments]
        # whether each segment teaches where forgeries start and end exactly (sure), how well a proposal
        # covers it (scored), or roughly where it lies (rough)
        sure = scored = rough = [torch.ones(len(s), dtype=torch.bool, device=mask.device) for s in segs_frames]
        if batch.segment_pseudo is not None and cfg.pseudo_boundaries != "all":
            sure = [~p.to(mask.device) for p in batch.segment_pseudo]
            scored = scored if cfg.pseudo_boundaries == "scored" else sure
            rough = rough if cfg.pseudo_boundaries in ("scored", "coarse") else sure
        if out.cls_logits is not None:
            terms.update(self._anchor_free_loss(out, segs_frames, batch.segment_modality, sure, scored, rough))
        if out.edge_logits is not None:
            targets, counted = zip(*(edge_targets(s[k], int(n), unsure_frames=s[~k])
                                     for s, k, n in zip(segs_frames, sure, mask.sum(1))))
            terms["edges"] = cfg.w_edges * edge_loss(out.edge_logits, _pad_edges(targets, out), _pad_edges(counted, out))
        if out.word_edge_logits is not None:
            terms["word_edges"] = cfg.w_word_edges * self._word_edge_loss(out, batch, segs_frames)
        if out.bm_logits is not None:
            iou = torch.stack([bm_iou_targets(s, mask.shape[1], cfg.bm_max_duration_frames) for s in segs_frames])
            cell_mask = self.bm.cell_mask(mask)
            terms["bm"] = cfg.w_bm * losses.bm_map_loss(out.bm_logits, iou, cell_mask, cfg.bm_loss)
        terms["total"] = sum(terms.values())
        return terms

    @staticmethod
    def _word_edge_loss(out: DetectorOutput, batch: Batch, segs_frames) -> torch.Tensor:
        """The word-edge head's loss on the clips with word timings; zero, but still in the graph (as
        distributed training needs every parameter to be), when none has them."""
        if batch.words is None:
            return 0.0 * out.word_edge_logits.sum()
        mask, audio = out.mask, MODALITIES.index("audio")
        pseudo = batch.segment_pseudo or [None] * len(segs_frames)
        replaced = [s[p.to(s.device) & (m.to(s.device) == audio)] if p is not None else s[:0]
                    for s, p, m in zip(segs_frames, pseudo, batch.segment_modality)]
        targets, counted = zip(*(word_edge_targets(segments_to_frames(w).to(mask.device), int(n), bool(known), cut)
                                 for w, n, known, cut in zip(batch.words, mask.sum(1), batch.words_known, replaced)))
        return edge_loss(out.word_edge_logits, _pad_edges(targets, out), _pad_edges(counted, out))

    def _anchor_free_loss(self, out: DetectorOutput, segs_frames, segment_modality, sure, scored,
                          rough) -> dict[str, torch.Tensor]:
        """Focal class and attribution terms at every positive location; the regression where the
        assigned segment's edges are known ``rough``-ly, the quality where they can be ``scored``,
        the refinement where ``sure``."""
        cfg = self.cfg
        targets = [anchor_free_targets(out.point_frames, out.point_strides, out.point_levels, s, m.to(s.device),
                                       cfg.regress_ranges_frames, cfg.center_sample_radius)
                   for s, m in zip(segs_frames, segment_modality)]
        pos = torch.stack([t.positive for t in targets]) & out.point_mask  # (B, L)
        edged, n_edged = _assigned_to(pos, targets, sure)
        ranked = _assigned_to(pos, targets, scored)[0]
        coarse, n_coarse = _assigned_to(pos, targets, rough)
        dist = torch.stack([t.distances_frames for t in targets])  # (B, L, 2)
        modality = torch.stack([t.modality for t in targets])  # (B, L)
        n_pos = pos.sum().clamp(min=1).float()
        focal = losses.sigmoid_focal_loss(out.cls_logits, pos.float(), cfg.focal_alpha, cfg.focal_gamma)
        cls = (focal * out.point_mask).sum() / n_pos
        reg = losses.diou_loss_1d(out.reg_frames[coarse], dist[coarse]).sum() / n_coarse
        terms = {"cls": cfg.w_cls * cls, "reg": cfg.w_reg * reg,
                 "attr": cfg.w_attr * losses.attribution_loss(out.attr_logits[pos], modality[pos])}
        if out.boundaries_frames is not None:
            points = out.point_frames.expand_as(pos)
            target = torch.stack([points - dist[..., 0], points + dist[..., 1]], dim=-1)
            refined = out.boundaries_frames
            terms["refine"] = cfg.w_refine * (refined[edged] - target[edged]).abs().sum() / n_edged
            logits, iou = out.quality_logits[ranked], losses.segment_iou(refined[ranked].detach(), target[ranked])
            if cfg.quality_on == "overlapping":
                more_logits, more_iou = _overlapping_quality(out, pos, segs_frames, scored)
                logits, iou = torch.cat([logits, more_logits]), torch.cat([iou, more_iou])
            terms["quality"] = cfg.w_quality * losses.masked_bce(logits, iou, torch.ones_like(iou))
        return terms

    @torch.no_grad()
    def decode(self, out: DetectorOutput, batch: Batch, topk: int | None = None,
               min_score: float | None = None) -> list[Proposals]:
        """Pre-NMS proposals per clip in ABSOLUTE seconds (batch.offset_s + clip time), with modality."""
        return decode_proposals(out, batch,
                                self.cfg.decode_topk if topk is None else topk,
                                self.cfg.decode_min_score if min_score is None else min_score)


def _pad_edges(per_clip, out: DetectorOutput) -> torch.Tensor:
    """Per-clip (T_i + 1, ...) edge tensors -> one (B, T + 1, ...) tensor, zero (not counted) on padding."""
    t_len = out.mask.shape[1] + 1
    return torch.stack([F.pad(x, (0, 0) * (x.dim() - 1) + (0, t_len - len(x))) for x in per_clip])


def _assigned_to(pos: torch.Tensor, targets, chosen) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive locations (B, L) whose assigned segment is ``chosen`` (B x (N_i,) bool), and their count (>= 1)."""
    sel = pos & torch.stack([c[t.segment] if len(c) else t.positive for c, t in zip(chosen, targets)])
    return sel, sel.sum().clamp(min=1).float()


def _overlapping_quality(out: DetectorOutput, pos: torch.Tensor, segs_frames, scored) -> tuple[torch.Tensor, torch.Tensor]:
    """Quality logits and targets of the valid locations that are not positives but whose refined proposal
    overlaps a forged segment to be ``scored``: the target is its best IoU with one. A location overlapping
    a segment not to be scored (its edges unknown) is left out."""
    logits, targets = [], []
    refined = out.boundaries_frames.detach()
    for b, (segs, known) in enumerate(zip(segs_frames, scored)):
        if not len(segs):
            continue
        iou = losses.segment_iou(refined[b].unsqueeze(1), segs.to(refined.dtype))  # (L, N)
        best = iou[:, known].amax(1) if known.any() else iou.new_zeros(len(iou))
        unsure = iou[:, ~known].amax(1) if (~known).any() else torch.zeros_like(best)
        keep = out.point_mask[b] & ~pos[b] & (best > 0) & (unsure == 0)
        logits.append(out.quality_logits[b][keep])
        targets.append(best[keep])
    empty = out.quality_logits.new_zeros(0)
    return (torch.cat(logits) if logits else empty), (torch.cat(targets) if targets else empty)


def add_to_levels(fused: list, masks: list, x: torch.Tensor, mask: torch.Tensor, strides) -> list:
    """Add the per-frame (B, T, C) ``x`` (zero on padding) to every pyramid level, averaged over
    the valid frames of each stride-long block (so padding a clip never changes its values)."""
    out = []
    valid = mask.to(x.dtype).unsqueeze(1)  # (B, 1, T)
    for f, m, stride in zip(fused, masks, strides):
        if stride == 1:
            pooled = x
        else:
            total = F.avg_pool1d(x.transpose(1, 2), stride, stride, ceil_mode=True)
            count = F.avg_pool1d(valid, stride, stride, ceil_mode=True).clamp(min=1e-6)
            pooled = (total / count).transpose(1, 2)
        out.append(apply_mask(f + pooled[:, :f.shape[1]], m))
    return out


def build_detector(cfg: DetectorConfig, visual_dim: int, audio_dim: int) -> Detector:
    return Detector(cfg, visual_dim, audio_dim)
