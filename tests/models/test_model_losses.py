"""Each loss against values worked out by hand."""
import math

import torch

from avforge.models.losses import (attribution_loss, av_contrastive_loss, bm_map_loss, diou_loss_1d,
                                   masked_bce, sigmoid_focal_loss)

LN2 = math.log(2)


def test_sigmoid_focal_loss_hand_values():
    logits = torch.tensor([0.0, 0.0, math.log(3)])  # p = 0.5, 0.5, 0.75
    targets = torch.tensor([1.0, 0.0, 1.0])
    got = sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2.0)
    expected = torch.tensor([0.25 * 0.25 * LN2, 0.75 * 0.25 * LN2, 0.25 * 0.0625 * -math.log(0.75)])
    torch.testing.assert_close(got, expected)
    # alpha < 0 disables the class weight; gamma = 0 gives plain BCE
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, alpha=-1, gamma=0.0),
                               torch.tensor([LN2, LN2, -math.log(0.75)]))


def test_diou_1d_hand_values():
    # same location, distances (start, end): pred [-1, 3], target [-2, 2]: inter 3, union 5,
    # enclosing 5, centre gap 1 -> 1 - 0.6 + (1/5)^2
    got = diou_loss_1d(torch.tensor([[1.0, 3.0], [1.5, 2.5]]), torch.tensor([[2.0, 2.0], [1.5, 2.5]]))
    torch.testing.assert_close(got, torch.tensor([0.44, 0.0]))


def test_diou_gradient_moves_towards_target():
    pred = torch.tensor([[1.0, 3.0]], requires_grad=True)
    diou_loss_1d(pred, torch.tensor([[2.0, 2.0]])).sum().backward()
    assert pred.grad[0, 0] < 0 and pred.grad[0, 1] > 0


def test_masked_bce_ignores_padding():
    got = masked_bce(torch.tensor([[0.0, 0.0, 100.0]]), torch.tensor([[1.0, 0.0, 0.0]]),
                     torch.tensor([[True, True, False]]))
    torch.testing.assert_close(got, torch.tensor(LN2))


def test_contrastive_pulls_real_pushes_fake_with_margin():
    same, orth = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    visual = torch.stack([same, same, same, same, same])[None]
    audio = torch.stack([same, orth, same, orth, orth])[None]
    fake = torch.tensor([[0.0, 1.0, 1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, True, False]])
    # real & equal: 0; fake & distance sqrt(2) > margin: 0; fake & equal: 0.99^2; real & orthogonal: 2
    got = av_contrastive_loss(visual, audio, fake, mask, margin=0.99)
    torch.testing.assert_close(got, torch.tensor((0.99 ** 2 + 2.0) / 4))


def test_bm_map_loss_balances_high_and_low_iou_cells():
    logits = torch.zeros(1, 1, 4)
    iou = torch.tensor([[[0.9, 0.2, 0.0, 1.0]]])
    mask = torch.tensor([[[True, True, True, False]]])
    # mse cells 0.16, 0.09, 0.25; weights: the one high cell 1, the two low cells 1/2 each
    torch.testing.assert_close(bm_map_loss(logits, iou, mask, "mse"), torch.tensor((0.16 + 0.045 + 0.125) / 2))
    bce = torch.tensor([-(0.9 * math.log(0.5) + 0.1 * math.log(0.5))] * 3)
    torch.testing.assert_close(bm_map_loss(logits, iou, mask, "bce"), bce[0])


def test_attribution_loss():
    torch.testing.assert_close(attribution_loss(torch.zeros(2, 3), torch.tensor([1, 2])), torch.tensor(math.log(3)))
    empty = attribution_loss(torch.zeros(0, 3, requires_grad=True), torch.zeros(0, dtype=torch.long))
    assert empty.item() == 0.0 and empty.requires_grad
