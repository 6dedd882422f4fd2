#!/usr/bin/env python3
"""Times the reference StarGAN training step (yunjey/stargan solver.py's train()
body: D step every iteration with gradient penalty, G step every n_critic-th)
on a synthetic batch in GPU memory, so the number compares with
build/bench/train-step-bench. Prints one line of key=value pairs.

The networks, the gradient penalty and the classification loss are
tests/golden/stargan_ref.py's (the ones the golden test data come from). Run from
anywhere with the python3 that has a CUDA PyTorch (or --device cpu)."""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
from stargan_ref import Generator, Discriminator, gradient_penalty, classification_loss  # noqa: E402

SOURCE = "tests/golden/stargan_ref.py"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--conv-dim", type=int, default=64)
    ap.add_argument("--g-repeat", type=int, default=6)
    ap.add_argument("--d-repeat", type=int, default=6)
    ap.add_argument("--c-dim", type=int, default=5)
    ap.add_argument("--n-critic", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--no-tf32", action="store_true", help="cudnn.allow_tf32 = False")
    ap.add_argument("--sync-losses", action="store_true",
                    help="call .item() on every loss each iteration, as solver.py logs them")
    ap.add_argument("--data-on-gpu", action="store_true",
                    help="keep the batch on the GPU (no copy per iteration: the reference's best case; "
                         "solver.py copies each batch from host memory, which waits for the GPU)")
    ap.add_argument("--device", default="cuda", help="cuda, or cpu for a smoke test of this script")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch_reference_step: no GPU visible to PyTorch", file=sys.stderr)
        return 1
    dev = torch.device(a.device)
    cuda = a.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = not a.no_tf32
    torch.manual_seed(0)
    G = Generator(a.conv_dim, a.c_dim, a.g_repeat).to(dev)
    D = Discriminator(a.image_size, a.conv_dim, a.c_dim, a.d_repeat).to(dev)
    g_opt = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))
    x_cpu = torch.rand(a.batch, 3, a.image_size, a.image_size) * 2 - 1
    l_cpu = (torch.rand(a.batch, a.c_dim) < 0.5).float()
    if a.data_on_gpu:
        x_cpu, l_cpu = x_cpu.to(dev), l_cpu.to(dev)

    def iteration(i):
        x_real = x_cpu.to(dev, non_blocking=False)     # a batch arrives every iteration
        label_org = l_cpu.to(dev)
        label_trg = label_org[torch.randperm(label_org.size(0), device=dev)]
        c_org, c_trg = label_org.clone(), label_trg.clone()
        out_src, out_cls = D(x_real)
        d_loss_real = -torch.mean(out_src)
        d_loss_cls = classification_loss(out_cls, label_org, one_hot=False)
        x_fake = G(x_real, c_trg)
        out_src, _ = D(x_fake.detach())
        d_loss_fake = torch.mean(out_src)
        alpha = torch.rand(x_real.size(0), 1, 1, 1, device=dev)
        x_hat = (alpha * x_real.data + (1 - alpha) * x_fake.data).requires_grad_(True)
        out_src, _ = D(x_hat)
        d_loss_gp = gradient_penalty(out_src, x_hat)
        d_loss = d_loss_real + d_loss_fake + 1.0 * d_loss_cls + 10.0 * d_loss_gp
        g_opt.zero_grad()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        losses = [d_loss_real, d_loss_fake, d_loss_cls, d_loss_gp]
        if (i + 1) % a.n_critic == 0:
            x_fake = G(x_real, c_trg)
            out_src, out_cls = D(x_fake)
            g_loss_fake = -torch.mean(out_src)
            g_loss_cls = classification_loss(out_cls, label_trg, one_hot=False)
            x_reconst = G(x_fake, c_org)
            g_loss_rec = torch.mean(torch.abs(x_real - x_reconst))
            g_loss = g_loss_fake + 10.0 * g_loss_rec + 1.0 * g_loss_cls
            g_opt.zero_grad()
            d_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
            losses += [g_loss_fake, g_loss_rec, g_loss_cls]
        if a.sync_losses:
            [t.item() for t in losses]

    for i in range(a.warmup):
        iteration(i)
    sync()
    steady0 = torch.cuda.memory_allocated() if cuda else 0
    peak_warm = torch.cuda.max_memory_allocated() if cuda else 0
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.iters):
        iteration(i)
    sync()
    dt = time.perf_counter() - t0
    gib = 1024.0 ** 3
    print("device=torch-%s tf32=%d data_on_gpu=%d name=%s torch=%s cudnn=%s source=%s image=%d batch=%d conv=%d "
          "iters=%d seconds=%.3f it_per_s=%.2f ms_per_it=%.3f peak_gib_warmup=%.3f "
          "peak_gib_timed=%.3f allocated_gib=%.3f"
          % (a.device, 0 if a.no_tf32 else 1, 1 if a.data_on_gpu else 0,
             torch.cuda.get_device_name(0).replace(" ", "_") if cuda else "cpu",
             torch.__version__, torch.backends.cudnn.version(), SOURCE, a.image_size, a.batch,
             a.conv_dim, a.iters, dt, a.iters / dt, 1e3 * dt / a.iters, peak_warm / gib,
             (torch.cuda.max_memory_allocated() if cuda else 0) / gib, steady0 / gib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
