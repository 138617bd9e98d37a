"""Mixout for the peer run, with the semantics of the mixout authors' code
(bloodwass/mixout: mixout.py's Mixout function and mixlinear.py's MixLinear),
written here from its definition (../shared/fixtures/mixout/README.md):

  forward   M[r, c] = m[c], one Bernoulli(1 - p) draw per input neuron
            (per element for a 1-D weight), repeated over the rows;
            mixed = ((1 - M) * target + M * W - p * target) / (1 - p);
            p == 1: target; p == 0 or eval mode: W.
  backward  the authors' dL/dW = M * dL/dmixed ("reference"), which omits
            the exact derivative's 1/(1 - p); exact_grad=True gives the true
            M/(1 - p) * dL/dmixed (mixft's default --mixout-grad exact).

The bias is not mixed. `python3 mixout_peer.py --check DIR` compares the
module with the fixtures in DIR (the authors' own outputs, masks replayed).
"""

import argparse
import sys

import torch
import torch.nn.functional as F
from torch import nn


class _Mixout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, target, p, exact_grad, mask):
        ctx.scale = 1.0 / (1.0 - p) if exact_grad else 1.0
        ctx.save_for_backward(mask)
        return ((1 - mask) * target + mask * weight - p * target) / (1 - p)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask * ctx.scale, None, None, None, None


def draw_mask(weight, p):
    """The authors' mask: one Bernoulli(1 - p) draw per column, repeated over rows."""
    if weight.dim() == 1:
        return torch.empty_like(weight).bernoulli_(1 - p)
    row = torch.empty(weight.shape[1], dtype=weight.dtype, device=weight.device).bernoulli_(1 - p)
    return row.expand_as(weight)


def mixout(weight, target, p, training, exact_grad=False, mask=None):
    """W~ of mixout(target, p) for weight; mask replays a given mask (tests)."""
    if p == 0 or not training:
        return weight
    if p == 1:
        return target.expand_as(weight) + 0 * weight
    if mask is None:
        mask = draw_mask(weight, p)
    return _Mixout.apply(weight, target, p, exact_grad, mask.to(weight.dtype).expand_as(weight))


class MixLinear(nn.Linear):
    """nn.Linear whose weight is mixed with target (the pretrained weight) in training."""

    def __init__(self, linear, p, exact_grad=False):
        super().__init__(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            self.weight.copy_(linear.weight)
            if linear.bias is not None:
                self.bias.copy_(linear.bias)
        self.register_buffer("target", linear.weight.detach().clone())
        self.p, self.exact_grad = p, exact_grad

    def forward(self, x):
        return F.linear(x, mixout(self.weight, self.target, self.p, self.training, self.exact_grad), self.bias)


def apply_mixout(module, p, exact_grad=False):
    """Replaces every nn.Linear under module by a MixLinear toward its current
    weight; returns the replaced names."""
    names = [n for n, m in module.named_modules() if isinstance(m, nn.Linear) and not isinstance(m, MixLinear)]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, child, MixLinear(getattr(parent, child), p, exact_grad))
    return names


def check(fixtures):
    """Compares mixout/MixLinear with the authors' outputs; returns the worst error ratio."""
    import json
    import os

    from safetensors.torch import load_file

    worst = 0.0

    def close(name, got, want):
        nonlocal worst
        tol = 1e-6 * (1 + want.abs().max().item())
        err = (got - want).abs().max().item()
        worst = max(worst, err / tol)
        print(f"{name}: max abs err {err:.3g} (tol {tol:.3g})", "ok" if err <= tol else "FAIL")

    meta = json.load(open(os.path.join(fixtures, "functional.json")))
    t = load_file(os.path.join(fixtures, "functional.safetensors"))
    for c in meta["cases"]:
        n = c["name"]
        W = t[f"{n}/W"].clone().requires_grad_(True)
        mask = t.get(f"{n}/mask_full", t.get(f"{n}/mask_row"))
        for grad, key in ((False, "grad_author"), (True, "grad_exact")):
            W.grad = None
            mixed = mixout(W, t[f"{n}/target"], c["p"], c["training"], exact_grad=grad, mask=mask)
            mixed.backward(t[f"{n}/upstream_grad"])
            if not grad:
                close(f"{n} mixed", mixed.detach(), t[f"{n}/mixed"])
            close(f"{n} {key}", W.grad, t[f"{n}/{key}"])
    meta = json.load(open(os.path.join(fixtures, "mixlinear.json")))
    t = load_file(os.path.join(fixtures, "mixlinear.safetensors"))
    for c in meta["cases"]:
        n = c["name"]
        lin = nn.Linear(c["in_features"], c["out_features"])
        with torch.no_grad():
            lin.weight.copy_(t[f"{n}/target"])
        m = MixLinear(lin, c["p"])
        with torch.no_grad():
            m.weight.copy_(t[f"{n}/weight"])
            m.bias.copy_(t[f"{n}/bias"])
        x = t[f"{n}/x"].clone().requires_grad_(True)
        y = F.linear(x, mixout(m.weight, m.target, m.p, True, mask=t[f"{n}/mask_row"]), m.bias)
        y.backward(t[f"{n}/upstream_grad_y"])
        close(f"{n} y", y.detach(), t[f"{n}/y"])
        close(f"{n} grad_x", x.grad, t[f"{n}/grad_x"])
        close(f"{n} grad_weight_author", m.weight.grad, t[f"{n}/grad_weight_author"])
        close(f"{n} grad_bias", m.bias.grad, t[f"{n}/grad_bias"])
    return worst


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True, help="the mixout fixture folder (../shared/fixtures/mixout)")
    sys.exit(0 if check(ap.parse_args().check) <= 1 else 1)
