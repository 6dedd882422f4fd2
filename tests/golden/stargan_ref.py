#!/usr/bin/python3
"""Golden data for tests/unit/test_model_golden.c: one D step and one G step of
StarGAN in PyTorch (float32, 1 thread), written as safetensors files.

The Generator/Discriminator below follow the reference architecture
(yunjey/stargan model.py, as described in DESIGN.md) and the steps follow its
solver.py train() (single dataset) and train_multi() (several datasets with a
mask vector): same losses, same order, same Adam.

Usage: /usr/bin/python3 tests/golden/stargan_ref.py [OUTDIR]   (default: tests/golden)

Each file holds, for one small configuration (its metadata lists it):
  x, c_org, c_trg, alpha           the batch
  G.init.<name>, D.init.<name>     the state_dicts before the steps
  {G,D}.adam_m / adam_v            Adam moments before the steps (flat, trainable
                                   tensors in state_dict order), only if metadata
                                   adam_step > 0 (else Adam starts fresh)
  G.generate                       G(x, c_trg) with the initial weights (inference)
  D.loss                           [real, fake, cls, gp] of the D step
  D.grad.<name>                    D's gradients of the D step (before Adam)
  D.after.<name>                   D's state_dict after the D step
  G.loss                           [fake, rec, cls] of the G step
  G.grad.<name>                    G's gradients of the G step
  G.after.<name>                   G's state_dict after the G step (running stats
                                   updated by the three G forwards)
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            nn.InstanceNorm2d(dim, affine=True, track_running_stats=True))

    def forward(self, x):
        return x + self.main(x)


class Generator(nn.Module):
    def __init__(self, conv_dim, c_dim, repeat_num):
        super().__init__()
        layers = [nn.Conv2d(3 + c_dim, conv_dim, kernel_size=7, stride=1, padding=3, bias=False),
                  nn.InstanceNorm2d(conv_dim, affine=True, track_running_stats=True),
                  nn.ReLU(inplace=True)]
        cur = conv_dim
        for _ in range(2):
            layers += [nn.Conv2d(cur, cur * 2, kernel_size=4, stride=2, padding=1, bias=False),
                       nn.InstanceNorm2d(cur * 2, affine=True, track_running_stats=True),
                       nn.ReLU(inplace=True)]
            cur *= 2
        for _ in range(repeat_num):
            layers.append(ResidualBlock(cur))
        for _ in range(2):
            layers += [nn.ConvTranspose2d(cur, cur // 2, kernel_size=4, stride=2, padding=1, bias=False),
                       nn.InstanceNorm2d(cur // 2, affine=True, track_running_stats=True),
                       nn.ReLU(inplace=True)]
            cur //= 2
        layers += [nn.Conv2d(cur, 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x, c):
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
    def __init__(self, image_size, conv_dim, c_dim, repeat_num):
        super().__init__()
        layers = [nn.Conv2d(3, conv_dim, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
        cur = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(cur, cur * 2, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
            cur *= 2
        k = image_size // 2 ** repeat_num
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(cur, 1, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cur, c_dim, kernel_size=k, bias=False)

    def forward(self, x):
        h = self.main(x)
        out_cls = self.conv2(h)
        return self.conv1(h), out_cls.view(out_cls.size(0), out_cls.size(1))


def gradient_penalty(y, x):
    dydx = torch.autograd.grad(outputs=y, inputs=x, grad_outputs=torch.ones_like(y),
                               retain_graph=True, create_graph=True, only_inputs=True)[0]
    dydx = dydx.view(dydx.size(0), -1)
    return torch.mean((torch.sqrt(torch.sum(dydx ** 2, dim=1)) - 1) ** 2)


def classification_loss(logit, target, one_hot):
    if not one_hot:
        return F.binary_cross_entropy_with_logits(logit, target, reduction='sum') / logit.size(0)
    return F.cross_entropy(logit, target.argmax(dim=1))


def write_safetensors(path, tensors, meta):
    # numpy only here: bench/torch_reference_step.py imports the networks from this
    # file with a CUDA PyTorch that may come without numpy.
    import numpy as np
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        a = t.detach().cpu().contiguous().numpy()
        if a.dtype == np.int64:
            dt, raw = "I64", a.astype('<i8').tobytes()
        else:
            dt, raw = "F32", a.astype('<f4').tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def perturb_in_layers(net, gen):
    """Non-trivial IN affine parameters and running stats, so that the test sees them."""
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.InstanceNorm2d):
                mod.weight.uniform_(0.5, 1.5, generator=gen)
                mod.bias.uniform_(-0.2, 0.2, generator=gen)
                mod.running_mean.uniform_(-0.3, 0.3, generator=gen)
                mod.running_var.uniform_(0.5, 1.5, generator=gen)


class KinkRecorder:
    """Keeps the inputs of every ReLU/LeakyReLU while on: the points where a
    gradient mask can flip between two float32 implementations."""
    def __init__(self):
        self.on, self.inputs = False, []

    def attach(self, net):
        for mod in net.modules():
            if isinstance(mod, (nn.ReLU, nn.LeakyReLU)):
                mod.register_forward_pre_hook(self.hook)

    def hook(self, mod, inp):
        if self.on:
            self.inputs.append((isinstance(mod, nn.LeakyReLU), inp[0].detach().clone()))


def run_case(seed, dtype, image_size, g_conv_dim, g_repeat, d_conv_dim, d_repeat, batch,
             label_dims, one_hot, ds, adam_step, lr, lambda_cls, lambda_rec, lambda_gp):
    """One D step and one G step; returns (tensors to write, kink inputs)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    n_ds = len(label_dims)
    cls_dim = sum(label_dims)
    c_dim = cls_dim + (n_ds if n_ds > 1 else 0)
    off = sum(label_dims[:ds])
    C = label_dims[ds]
    G = Generator(g_conv_dim, c_dim, g_repeat)
    D = Discriminator(image_size, d_conv_dim, cls_dim, d_repeat)
    perturb_in_layers(G, gen)
    G.to(dtype).train()
    D.to(dtype).train()
    kinks = KinkRecorder()
    kinks.attach(G)
    kinks.attach(D)
    g_opt = torch.optim.Adam(G.parameters(), lr, [0.5, 0.999])
    d_opt = torch.optim.Adam(D.parameters(), lr, [0.5, 0.999])

    # the batch: dataset ds's labels in its slot, the mask one-hot at the end
    N = batch
    x = torch.rand(N, 3, image_size, image_size, generator=gen) * 2 - 1
    lab = torch.zeros(N, C)
    if one_hot[ds]:
        lab[torch.arange(N), torch.randint(0, C, (N,), generator=gen)] = 1
    else:
        lab = (torch.rand(N, C, generator=gen) < 0.5).float()
    perm = torch.randperm(N, generator=gen)
    lab_trg = lab[perm]
    c_org = torch.zeros(N, c_dim)
    c_trg = torch.zeros(N, c_dim)
    c_org[:, off:off + C] = lab
    c_trg[:, off:off + C] = lab_trg
    if n_ds > 1:
        c_org[:, cls_dim + ds] = 1
        c_trg[:, cls_dim + ds] = 1
    alpha = torch.rand(N, generator=gen)
    x, lab, lab_trg, c_org, c_trg, alpha = (t.to(dtype) for t in (x, lab, lab_trg, c_org, c_trg, alpha))

    # optional Adam state before the steps (tests the bias corrections at t > 1)
    def adam_state(net, opt):
        ms, vs = [], []
        for p in net.parameters():
            m = ((torch.rand(p.shape, generator=gen) - 0.5) * 2e-3).to(dtype)
            v = (torch.rand(p.shape, generator=gen) * 1e-5).to(dtype)
            if adam_step > 0:
                opt.state[p] = {'step': torch.tensor(float(adam_step)), 'exp_avg': m.clone(),
                                'exp_avg_sq': v.clone()}
            else:
                m.zero_(); v.zero_()
            ms.append(m.flatten()); vs.append(v.flatten())
        return torch.cat(ms), torch.cat(vs)
    g_m, g_v = adam_state(G, g_opt)
    d_m, d_v = adam_state(D, d_opt)

    out = [("x", x), ("c_org", c_org), ("c_trg", c_trg), ("alpha", alpha)]
    if adam_step > 0:
        out += [("G.adam_m", g_m), ("G.adam_v", g_v), ("D.adam_m", d_m), ("D.adam_v", d_v)]
    out += [("G.init." + k, v.clone()) for k, v in G.state_dict().items()]
    out += [("D.init." + k, v.clone()) for k, v in D.state_dict().items()]

    # inference as the reference's test(): G in training mode (per-image IN
    # statistics) under no_grad; the running stats it would touch are restored
    saved = {k: v.clone() for k, v in G.state_dict().items()}
    with torch.no_grad():
        out.append(("G.generate", G(x, c_trg)))
    G.load_state_dict(saved)

    def cls_of(out_cls):
        return out_cls[:, off:off + C]

    # ---- D step (solver.train: "Train the discriminator")
    kinks.on = True
    out_src, out_cls = D(x)
    d_loss_real = -torch.mean(out_src)
    d_loss_cls = classification_loss(cls_of(out_cls), lab, one_hot[ds])
    kinks.on = False        # no gradient flows through this G forward
    x_fake = G(x, c_trg)
    kinks.on = True
    out_src, out_cls = D(x_fake.detach())
    d_loss_fake = torch.mean(out_src)
    a = alpha.view(N, 1, 1, 1)
    x_hat = (a * x.data + (1 - a) * x_fake.data).requires_grad_(True)
    out_src, _ = D(x_hat)
    d_loss_gp = gradient_penalty(out_src, x_hat)
    d_loss = d_loss_real + d_loss_fake + lambda_cls * d_loss_cls + lambda_gp * d_loss_gp
    g_opt.zero_grad(); d_opt.zero_grad()
    d_loss.backward()
    out.append(("D.loss", torch.stack([d_loss_real, d_loss_fake, d_loss_cls, d_loss_gp]).detach()))
    out += [("D.grad." + k, p.grad.clone()) for k, p in D.named_parameters()]
    d_opt.step()
    out += [("D.after." + k, v.clone()) for k, v in D.state_dict().items()]

    # ---- G step (solver.train: "Train the generator")
    x_fake = G(x, c_trg)
    out_src, out_cls = D(x_fake)
    g_loss_fake = -torch.mean(out_src)
    g_loss_cls = classification_loss(cls_of(out_cls), lab_trg, one_hot[ds])
    x_reconst = G(x_fake, c_org)
    g_loss_rec = torch.mean(torch.abs(x - x_reconst))
    g_loss = g_loss_fake + lambda_rec * g_loss_rec + lambda_cls * g_loss_cls
    g_opt.zero_grad(); d_opt.zero_grad()
    g_loss.backward()
    out.append(("G.loss", torch.stack([g_loss_fake, g_loss_rec, g_loss_cls]).detach()))
    out += [("G.grad." + k, p.grad.clone()) for k, p in G.named_parameters()]
    g_opt.step()
    out += [("G.after." + k, v.clone()) for k, v in G.state_dict().items()]

    kinks.on = False
    meta = dict(image_size=image_size, g_conv_dim=g_conv_dim, g_repeat=g_repeat,
                d_conv_dim=d_conv_dim, d_repeat=d_repeat, batch=batch,
                label_dims=",".join(map(str, label_dims)), one_hot=",".join(str(int(b)) for b in one_hot),
                dataset=ds, adam_step=adam_step, lr=repr(lr), lambda_cls=lambda_cls,
                lambda_rec=lambda_rec, lambda_gp=lambda_gp, seed=seed, torch=torch.__version__)
    return out, meta, kinks.inputs


def make_case(path, seed, **kw):
    """Writes the float32 run of the first seed (from `seed` on) whose kinks keep
    a margin from 0 (in units of the layer's float32 rounding noise, measured
    against the same run in float64): 30x at D's LeakyReLUs, 1x at G's ReLUs.
    Then another float32 implementation, summing in another order, almost
    surely takes the same gradient masks: a flipped mask in D's short sums
    moves a gradient by far more than the test's tolerance. (G's thousands of
    ReLU inputs cannot all keep a wide margin; one flip there moves G's
    gradients by less.)"""
    kw.setdefault("lr", 1e-4)
    kw.setdefault("lambda_cls", 1.0)
    kw.setdefault("lambda_rec", 10.0)
    kw.setdefault("lambda_gp", 10.0)
    for s in range(seed, seed + 200):
        out, meta, z32 = run_case(s, torch.float32, **kw)
        _, _, z64 = run_case(s, torch.float64, **kw)
        hazards = 0
        for (leaky, a), (_, b) in zip(z32, z64):
            noise = (a.double() - b).abs().max().item()
            hazards += int((a.double().abs() <= (30 if leaky else 1) * noise).sum().item())
        if hazards == 0:
            break
    else:
        raise SystemExit("%s: no seed without mask hazards in [%d, %d)" % (path, seed, seed + 200))
    write_safetensors(path, out, meta)
    print("%s: seed %d, %d tensors, %d bytes" % (path, s, len(out), os.path.getsize(path)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    torch.set_num_threads(1)
    # one CelebA-like dataset, 5 attributes (BCE), fresh Adam
    make_case(os.path.join(outdir, "stargan_single.safetensors"), seed=1, image_size=32,
              g_conv_dim=8, g_repeat=2, d_conv_dim=8, d_repeat=3, batch=4,
              label_dims=[5], one_hot=[False], ds=0, adam_step=0)
    # two datasets with a mask vector: 3 multi-hot + 4 one-hot (RaFD-like), the
    # batch from the one-hot set, Adam already at step 5
    make_case(os.path.join(outdir, "stargan_multi.safetensors"), seed=2, image_size=16,
              g_conv_dim=4, g_repeat=1, d_conv_dim=4, d_repeat=2, batch=3,
              label_dims=[3, 4], one_hot=[False, True], ds=1, adam_step=5)
    # two multi-hot datasets (celeb-split's celebA + celebB), the batch from the
    # second: its BCE targets start at column 3, not 0 (fresh Adam)
    make_case(os.path.join(outdir, "stargan_multi_hot.safetensors"), seed=3, image_size=16,
              g_conv_dim=4, g_repeat=1, d_conv_dim=4, d_repeat=2, batch=3,
              label_dims=[3, 4], one_hot=[False, False], ds=1, adam_step=0)


if __name__ == "__main__":
    main()
