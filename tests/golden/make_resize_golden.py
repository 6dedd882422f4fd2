#!/usr/bin/python3
"""Golden data for tests/unit/test_image.c: decoding and the reference's
CenterCrop + Resize, as torchvision 0.14 does them on PIL images (Pillow 9.4).

Run with Debian's /usr/bin/python3 (PIL, numpy) from the repository root:
    /usr/bin/python3 tests/golden/make_resize_golden.py
Writes tests/golden/resize/: deterministic input JPEGs/PNGs, the pixels PIL
decodes from them (PNG, lossless), the expected crop+resize outputs (PNG) and
cases.txt, one case per line:
    decode INPUT EXPECTED.png
    resize INPUT CROP_W CROP_H OUT_W OUT_H EXPECTED.png
torchvision is not installed here, so center_crop below restates
torchvision.transforms.functional.center_crop (0.14): pad with zeros when the
crop is larger than the image, then crop at int(round((in - crop) / 2.0)).
"""
import os
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resize")


def center_crop(img, crop_h, crop_w):
    w, h = img.size
    if crop_w > w or crop_h > h:
        pad_l = (crop_w - w) // 2 if crop_w > w else 0
        pad_t = (crop_h - h) // 2 if crop_h > h else 0
        pad_r = (crop_w - w + 1) // 2 if crop_w > w else 0
        pad_b = (crop_h - h + 1) // 2 if crop_h > h else 0
        padded = Image.new(img.mode, (w + pad_l + pad_r, h + pad_t + pad_b), 0)
        padded.paste(img, (pad_l, pad_t))
        img = padded
        w, h = img.size
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return img.crop((left, top, left + crop_w, top + crop_h))


def resize(img, out_h, out_w):
    # torchvision Resize(int) on a square crop, or Resize((h, w)): both end here.
    return img.resize((out_w, out_h), Image.BILINEAR)


def pattern(w, h, seed):
    """Smooth gradients and rings (compress well) plus a noisy patch and sharp
    edges (exercise rounding and clipping)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.hypot(x - w * 0.4, y - h * 0.55)
    a = np.empty((h, w, 3))
    a[..., 0] = 128 + 127 * np.sin(r / (3.0 + seed))
    a[..., 1] = 255 * x / max(w - 1, 1)
    a[..., 2] = 255 * ((x // 7 + y // 5) % 2)
    ph, pw = max(h // 6, 2), max(w // 6, 2)
    a[h // 3:h // 3 + ph, w // 2:w // 2 + pw] = rng.integers(0, 256, (ph, pw, 3))
    return np.clip(a, 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    inputs = [
        # name, w, h, kind, extra save options
        ("celeba.jpg", 178, 218, "jpeg", dict(quality=90)),          # CelebA aligned size, 4:2:0
        ("odd.jpg", 37, 23, "jpeg", dict(quality=85, subsampling=0)),  # odd sizes, 4:4:4
        ("grey.jpg", 40, 31, "jpeg-grey", dict(quality=80)),
        ("rafd.jpg", 681, 1024, "jpeg", dict(quality=40)),          # RaFD's size
        ("small.png", 45, 52, "png", {}),
        ("alpha.png", 20, 17, "png-rgba", {}),
    ]
    for name, w, h, kind, opts in inputs:
        a = pattern(w, h, len(lines))
        if kind == "jpeg-grey":
            img = Image.fromarray(a[..., 0], "L")
        elif kind == "png-rgba":
            img = Image.fromarray(np.dstack([a, a[..., :1]]), "RGBA")
        else:
            img = Image.fromarray(a, "RGB")
        img.save(os.path.join(OUT, name), **opts)
        # What the reference's loader sees: Image.open(f).convert("RGB").
        dec = Image.open(os.path.join(OUT, name)).convert("RGB")
        stem = os.path.splitext(name)[0]
        if w * h <= 200 * 250:
            dec.save(os.path.join(OUT, stem + ".decoded.png"))
            lines.append(f"decode {name} {stem}.decoded.png")

    resize_cases = [
        ("celeba.jpg", 178, 178, 128, 128),   # the CelebA case
        ("celeba.jpg", 178, 178, 64, 64),
        ("celeba.jpg", 178, 178, 32, 32),
        ("celeba.jpg", 178, 178, 256, 256),   # upscaling
        ("celeba.jpg", 200, 200, 96, 96),     # crop wider than the image: zero padding
        ("celeba.jpg", 177, 177, 128, 128),   # odd margins: round half to even
        ("celeba.jpg", 178, 218, 128, 128),   # no crop, non-square resize
        ("celeba.jpg", 178, 178, 178, 178),   # identity resize
        ("celeba.jpg", 150, 178, 150, 100),   # width kept, height resized
        ("odd.jpg", 20, 20, 13, 13),          # offsets 8.5 -> 8, 1.5 -> 2
        ("odd.jpg", 22, 20, 9, 31),
        ("odd.jpg", 40, 40, 17, 17),          # padding on both axes
        ("grey.jpg", 31, 31, 16, 16),
        ("rafd.jpg", 256, 256, 128, 128),     # RaFD: CenterCrop 256 on 681x1024
        ("rafd.jpg", 681, 681, 128, 128),
        ("rafd.jpg", 700, 700, 64, 64),       # wider than the image
        ("small.png", 45, 45, 30, 30),
        ("alpha.png", 16, 16, 8, 8),
    ]
    for i, (name, cw, ch, ow, oh) in enumerate(resize_cases):
        img = Image.open(os.path.join(OUT, name)).convert("RGB")
        res = resize(center_crop(img, ch, cw), oh, ow)
        exp = f"case{i:02d}.png"
        res.save(os.path.join(OUT, exp))
        lines.append(f"resize {name} {cw} {ch} {ow} {oh} {exp}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f"wrote {len(lines)} cases to {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
