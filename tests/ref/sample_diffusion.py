#!/usr/bin/python3
"""Independent reference values for tests/unit/test_diffusion.c, one "key v..." line each.

Schedules in float64 numpy: linear beta = linspace(1e-4, 0.02, T) (ref_unet.py's
make_alphas), cosine as improved-diffusion's betas_for_alpha_bar (max beta 0.999);
DDIM timesteps as ref_unet.py (torch.linspace(T-1, 0, S).long(), numpy float32 when torch
is missing); one DDIM step with eta and x0 clipping, and the guidance formula, on inputs
both sides build from the same closed forms; prompt buckets with FNV-1a 64.
"""
import math
import re

import numpy as np

T = 1000


def linear_abar():
    return np.cumprod(1 - np.linspace(1e-4, 0.02, T, dtype=np.float64))


def cosine_abar():
    f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)])
    return np.cumprod(1 - betas)


def timesteps(S):
    try:
        import torch
        return torch.linspace(T - 1, 0, S).long().tolist()
    except ImportError:
        return np.linspace(T - 1, 0, S, dtype=np.float32).astype(np.int64).tolist()


def inputs(n=12):
    i = np.arange(n, dtype=np.float64)
    x = 1.3 * np.sin(i + 1)
    eps = np.cos(2 * i + 0.5)
    z = 0.7 * np.sin(3 * i)
    return x, eps, z


def ddim(x, eps, z, ab, abp, eta):
    x0 = np.clip((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab), -1, 1)
    sigma = eta * math.sqrt((1 - abp) / (1 - ab) * (1 - ab / abp))
    return math.sqrt(abp) * x0 + math.sqrt(1 - abp - sigma ** 2) * eps + sigma * z


def fnv1a(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def buckets(prompt, B):
    return [fnv1a(w) % B for w in re.findall(r"[a-z0-9]+", prompt.lower())]


def line(key, vals):
    print(key, " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in vals))


def main():
    lin, cos = linear_abar(), cosine_abar()
    idx = [0, 1, 10, 100, 499, 500, 998, 999]
    line("idx", idx)
    line("linear", [float(lin[i]) for i in idx])
    line("cosine", [float(cos[i]) for i in idx])
    for S in (1, 20, 50):
        line(f"seq{S}", timesteps(S))
    x, eps, z = inputs()
    for name, (t, tp, eta) in {"ddim_a": (999, 946, 0.0), "ddim_b": (500, 400, 1.0),
                               "ddim_c": (52, 0, 0.3)}.items():
        line(name, ddim(x, eps, z, float(lin[t]), float(lin[tp]), eta).tolist())
    line("ddim_last", ddim(x, eps, z, float(lin[0]), 1.0, 0.0).tolist())
    line("cfg", (eps + 9 * (x - eps)).tolist())
    for k, p in enumerate(("Breast, Ultrasound!", "colonoscopy  polyp", "CT/spleen 2",
                           "", "  ..  ")):
        line(f"tok{k}", [len(buckets(p, 1024))] + buckets(p, 1024))


if __name__ == "__main__":
    main()
