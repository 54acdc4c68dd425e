"""PyTorch reference for the GPU engine's benchmark, run on the same GPU in the same device command.

nanoGPT-style GPT (pre-norm, SDPA flash attention, tied head, bf16 autocast, fused AdamW) with the plain residual
(rc) or mHC (n streams, dynamic maps, 20 Sinkhorn iterations) as the straightforward tensor-op implementation;
eager and torch.compile. Prints one JSON object per measurement as soon as it is done (so a time limit keeps
the finished ones): ms/step, tokens/s and peak memory per paradigm and mode.
Modes: eager; torch.compile of the whole model (RC only: for mHC, Dynamo unrolls 24 sublayers x 20 Sinkhorn
iterations and took over 400 s to compile here); and regional torch.compile (PyTorch's recipe for repeated layers:
each sublayer and the head compiled on their own, so identical sublayers share one compiled graph), for both.
Usage: python3 torch_gpt_bench.py [--layers 12 --width 768 --heads 12 --vocab 50304 --batch 16 --time 1024 --steps 10]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, c, h):
        super().__init__()
        self.h = h
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.h, c // self.h).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c, 4 * c)
        self.c_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Sublayer(nn.Module):
    """LN then attention or MLP, wrapped in the residual of the paradigm (rc: x + F(x); mhc: the n-stream maps)."""

    def __init__(self, f, c, n, mhc, iters=20):
        super().__init__()
        self.ln, self.f, self.n, self.mhc, self.iters = nn.LayerNorm(c), f, n, mhc, iters
        if mhc:
            d = n * c
            self.phi = nn.Parameter(torch.zeros(d, 2 * n + n * n))
            self.alpha = nn.Parameter(torch.full((3,), 0.01))
            self.b = nn.Parameter(torch.zeros(2 * n + n * n))

    def forward(self, x):                       # rc: (B, T, C); mhc: (B, T, n, C)
        if not self.mhc:
            return x + self.f(self.ln(x))
        n = self.n
        flat = x.flatten(-2)
        z = (flat * torch.rsqrt(flat.pow(2).mean(-1, keepdim=True) + 1e-6)) @ self.phi
        pre = torch.sigmoid(self.alpha[0] * z[..., :n] + self.b[:n])
        post = 2 * torch.sigmoid(self.alpha[1] * z[..., n:2 * n] + self.b[n:2 * n])
        m = torch.exp(self.alpha[2] * z[..., 2 * n:] + self.b[2 * n:]).unflatten(-1, (n, n))
        for _ in range(self.iters):
            m = m / m.sum(-1, keepdim=True)
            m = m / m.sum(-2, keepdim=True)
        h = (pre.unsqueeze(-2) @ x).squeeze(-2)
        f = self.f(self.ln(h))
        return m @ x + post.unsqueeze(-1) * f.unsqueeze(-2)


class Gpt(nn.Module):
    def __init__(self, a, mhc):
        super().__init__()
        self.n = a.streams if mhc else 1
        self.mhc = mhc
        self.wte, self.wpe = nn.Embedding(a.vocab, a.width), nn.Embedding(a.time, a.width)
        self.blocks = nn.ModuleList()
        for _ in range(a.layers):
            self.blocks.append(Sublayer(Attention(a.width, a.heads), a.width, self.n, mhc))
            self.blocks.append(Sublayer(Mlp(a.width), a.width, self.n, mhc))
        self.ln_f = nn.LayerNorm(a.width)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        if self.mhc:
            x = x.unsqueeze(-2).expand(-1, -1, self.n, -1).contiguous()
        for blk in self.blocks:
            x = blk(x)
        return self.head(x, targets)

    def head(self, x, targets):
        if self.mhc:
            x = x.mean(-2)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


MODES = {None: "eager", "full": "torch.compile", "regional": "torch.compile (regional)"}


def measure(a, mhc, compiled):
    torch.manual_seed(1)
    model = Gpt(a, mhc).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    step_model = model
    if compiled == "full":
        step_model = torch.compile(model)
    elif compiled == "regional":
        for blk in model.blocks:
            blk.compile()
        model.head = torch.compile(model.head)
    t_build = time.perf_counter()
    idx = torch.randint(0, a.vocab, (a.batch, a.time), device="cuda")
    tgt = torch.randint(0, a.vocab, (a.batch, a.time), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - t_build          # includes the compile
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1e3 / a.steps
    return {"paradigm": "mhc" if mhc else "rc", "streams": a.streams if mhc else 1,
            "mode": MODES[compiled], "warmup_s_incl_compile": warmup_s, "ms_per_step": ms,
            "tokens_per_s": a.batch * a.time / (ms / 1e3), "peak_memory_bytes": torch.cuda.max_memory_allocated()}


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(layers=12, width=768, heads=12, vocab=50304, batch=16, time=1024, steps=10, streams=4).items():
        p.add_argument("--" + k, type=int, default=v)
    p.add_argument("--no-compile", action="store_true")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    head = {"torch": torch.__version__, "device": torch.cuda.get_device_name(), "config": vars(a)}
    # cheapest first, so a time limit loses only the slowest compiles
    runs = [(False, None), (True, None)]
    if not a.no_compile:
        runs += [(False, "regional"), (True, "regional"), (False, "full")]
    for mhc, compiled in runs:
        try:
            row = measure(a, mhc, compiled)
        except Exception as e:                  # one failure must not lose the other measurements
            row = {"paradigm": "mhc" if mhc else "rc", "mode": MODES[compiled], "error": repr(e)}
        print(json.dumps({**head, **row}), flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
