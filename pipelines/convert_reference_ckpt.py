#!/usr/bin/python3
"""Converts a checkpoint of the reference PyTorch StarGAN (yunjey/stargan: the
generator file NNNNNN-G.ckpt, written by torch.save(G.state_dict(), path)) into a
stargan-c generator file NNNNNN-G.safetensors that sg-sample runs.

The tensors are copied unchanged, with their state_dict names, shapes and dtypes
(float32 -> F32, int64 -> I64). The safetensors format is written by hand (no
safetensors package needed): an 8-byte little-endian header length, the JSON header
(padded with spaces to a multiple of 8), then the tensors' bytes in order. The
__metadata__ holds the model and label configuration that sg-sample needs
(stargan-checkpoint(5)); the network sizes are read from the tensors, the labels
come from --dataset.

Examples (the reference's pretrained models):
  # CelebA, 128px, the reference's five attributes
  convert_reference_ckpt.py 200000-G.ckpt run/ckpt/200000-G.safetensors \\
      --dataset CelebA=Black_Hair,Blond_Hair,Brown_Hair,Male,Young
  # CelebA + RaFD (mask vector), as solver.py test_multi
  convert_reference_ckpt.py 200000-G.ckpt 200000-G.safetensors \\
      --dataset CelebA=Black_Hair,Blond_Hair,Brown_Hair,Male,Young \\
      --dataset RaFD:one-hot=angry,contemptuous,disgusted,fearful,happy,neutral,sad,surprised
  # the reference's 256x256 CelebA model
  convert_reference_ckpt.py 200000-G.ckpt 200000-G.safetensors --image-size 256 \\
      --dataset CelebA=Black_Hair,Blond_Hair,Brown_Hair,Male,Young

The --dataset options follow the model's label order: the reference's
--dataset Both model is [CelebA | RaFD | mask], so CelebA's comes first. Two
datasets with a one-hot one first and a multi-hot one second convert, with a
warning on standard error that the order may be swapped; a single --dataset for
a model with room for another dataset's labels and a mask is refused with a
hint to give one for each.

Each dataset's center-crop side (the CenterCrop of the reference's data loader,
which sg-sample applies to image files translated to that dataset's targets) is
recorded in its "datasets" entry: by default the reference's, 178 for a
multi-hot (CelebA-style) dataset and 256 for a one-hot (RaFD-style) one.
--crop N sets every dataset's, --crop NAME=N (or K=N, K its number from 1)
one dataset's; repeat it for several. The top-level "crop" is the first
dataset's, for older readers.

The output's directory is created when missing. An existing OUTPUT is refused
unless --force is given; the input itself (by any name: a symbolic or hard link
to it, checked by device and inode) is refused even then. The file is written
under a temporary name beside it, synced and renamed, so OUTPUT is either the
old file or the whole new one. D's repeat_num (--d-repeat) is
recorded only (sg-sample runs G alone), but sg-sample checks it against the image
size as for any model (the size a multiple of 2^d_repeat): it defaults to
sg-train's rule, the reference's 6, fewer for images under 128 px so that D's
last map is at least 2x2 (log2(image size) - 1: 4 at 32 px, 5 at 64 px); the
reference's own default, 6, cannot train below 64 px. Give the --d_repeat_num
the model was trained with when it was another.

The whole state_dict is checked first against the reference Generator's for
the sizes read from it (conv_dim and c_dim from main.0.weight, repeat_num from
the residual blocks): every tensor there, no other, each of its shape and dtype;
and the labels against what sg-sample accepts (no label twice in one dataset, a
one-hot dataset of at least 2 classes), so that every file written runs.
Errors (a missing or unreadable input, a file that is not a reference generator,
labels that do not fit it, an output that exists or cannot be written) are one line on
standard error, "convert_reference_ckpt.py: ...", exit status 1; nothing is
written then.

Needs torch only to read the .ckpt (torch.load); runs with /usr/bin/python3.
"""
import argparse
import json
import os
import re
import struct
import sys

FORMAT = "stargan-c-checkpoint/1"
PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "convert_reference_ckpt.py"


def die(msg):
    """An ordinary user error: one line, exit status 1, no traceback."""
    sys.exit("%s: %s" % (PROG, msg))


def os_error(e):
    """"No such file or directory" from an OSError, without Python's [Errno N]."""
    return e.strerror or str(e)


def default_d_repeat(image_size):
    """sg-train's default (lib/trainer.c sg_train_default_d_repeat): the
    reference's 6, fewer below 128 px so that D's last map is at least 2x2:
    floor(log2(image_size)) - 1, between 1 and 6."""
    return max(1, min(6, image_size.bit_length() - 2))


def check_sizes(image_size, d_repeat):
    """The checks sg-sample makes (lib/model.c sg_model_config_check), before
    anything is written: a converted file that sg-sample refuses helps no one."""
    if not 1 <= d_repeat <= 12:
        die("--d-repeat %d: 1..12 allowed" % d_repeat)
    unit = max(4, 1 << d_repeat)
    if image_size < 8:
        die("--image-size %d: at least 8 (G's residual blocks normalize image/4 planes)" % image_size)
    if image_size < unit or image_size % unit or image_size > 4096:
        die("--image-size %d must be a multiple of %d (2^d_repeat with --d-repeat %d, and of 4) and at most "
            "4096; give the --d-repeat the model was trained with" % (image_size, unit, d_repeat))


def parse_dataset(spec):
    """NAME[:one-hot|:multi-hot]=A,B,C -> (name, kind, [labels])."""
    if "=" not in spec:
        raise argparse.ArgumentTypeError("--dataset: expected NAME=A,B,... not %r" % spec)
    head, labels = spec.split("=", 1)
    name, _, kind = head.partition(":")
    kind = kind or "multi-hot"
    if kind not in ("multi-hot", "one-hot"):
        raise argparse.ArgumentTypeError("--dataset %s: kind must be one-hot or multi-hot" % name)
    names = labels.split(",")
    if not name or any(not n for n in names):
        raise argparse.ArgumentTypeError("--dataset: empty name in %r" % spec)
    return name, kind, names


def check_datasets(datasets):
    """The label configuration sg-sample accepts (lib/model.c sg_model_config_check,
    lib/targets.c): at most 8 datasets of 1..4096 labels, one-hot ones of at least
    2 classes, no label named twice in one dataset (a target could not name it;
    the same name in two datasets is fine, DATASET:NAME tells them apart)."""
    if len(datasets) > 8:
        die("--dataset: %d datasets, at most 8 allowed" % len(datasets))
    for name, kind, labels in datasets:
        if len(labels) > 4096:
            die("--dataset %s: %d labels, at most 4096 allowed" % (name, len(labels)))
        if kind == "one-hot" and len(labels) < 2:
            die("--dataset %s: a one-hot dataset needs at least 2 classes" % name)
        seen = set()
        for label in labels:
            if label in seen:
                die("--dataset %s: label %s is given twice" % (name, label))
            seen.add(label)


def dataset_crops(datasets, specs):
    """Each dataset's crop: the reference's default for its kind (CelebA 178,
    RaFD 256), then each --crop in order: N for every dataset, NAME=N or K=N
    (K its number from 1) for one."""
    crops = [256 if kind == "one-hot" else 178 for _, kind, _ in datasets]
    names = [name for name, _, _ in datasets]
    for spec in specs:
        which, eq, value = spec.rpartition("=")
        try:
            n = int(value)
        except ValueError:
            n = -1
        if not value.isdigit() or not 0 <= n <= 65536:
            die("--crop %s: expected N or DATASET=N, N a side in 0..65536 (0: none)" % spec)
        if not eq:
            crops = [n] * len(crops)
            continue
        if which.isdigit():
            k = int(which) - 1
            if not 0 <= k < len(datasets):
                die("--crop %s: no dataset %s; the datasets are %s" % (spec, which, ", ".join(
                    "%d %s" % (i + 1, x) for i, x in enumerate(names))))
        else:
            hits = [i for i, x in enumerate(names) if x == which]
            if not hits:
                die("--crop %s: no dataset is called %r; the datasets are %s" % (spec, which, ", ".join(
                    "%d %s" % (i + 1, x) for i, x in enumerate(names))))
            if len(hits) > 1:
                die("--crop %s: several datasets are called %r; give its number" % (spec, which))
            k = hits[0]
        crops[k] = n
    return crops


def load_state_dict(path):
    try:
        f = open(path, "rb")
    except OSError as e:
        die("%s: %s" % (path, os_error(e)))
    try:
        import torch
    except ImportError:
        die("needs torch to read %s (run it with /usr/bin/python3)" % path)
    try:
        with f:
            sd = torch.load(f, map_location="cpu")
    except OSError as e:
        die("%s: %s" % (path, os_error(e)))
    except Exception as e:   # not a torch.save file: pickle, zip and torch errors alike
        die("%s: not a PyTorch checkpoint (%s)" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__))
    if hasattr(sd, "state_dict"):      # a whole module saved by mistake
        sd = sd.state_dict()
    if not isinstance(sd, dict) or "main.0.weight" not in sd:
        die("%s: not a StarGAN generator state_dict (no main.0.weight)" % path)
    if "conv1.weight" in sd or "conv2.weight" in sd:
        die("%s: a discriminator's state_dict (NNNNNN-D.ckpt); convert the generator, NNNNNN-G.ckpt" % path)
    for k, v in sd.items():
        if not isinstance(k, str):
            die("%s: not the reference Generator's state_dict: a key %r that is not a name" % (path, k))
        if not isinstance(v, torch.Tensor):
            die("%s: not the reference Generator's state_dict: %s is a %s, not a tensor"
                % (path, k, type(v).__name__))
    w0 = sd["main.0.weight"]
    if len(w0.shape) != 4 or tuple(w0.shape[2:]) != (7, 7) or w0.shape[1] < 3:
        die("%s: not a StarGAN generator state_dict (main.0.weight is %s, not a 7x7 conv of 3+c channels)"
            % (path, list(w0.shape)))
    return sd


def generator_layout(g_conv_dim, c_dim, g_repeat):
    """The reference Generator's state_dict (yunjey/stargan model.py), in order:
    [(name, shape, dtype name)]. main.0 conv7x7(3+c -> d), main.1 IN, then two
    down-sampling convs 4x4 (main.3, main.6; IN at main.4, main.7), g_repeat
    ResidualBlocks main.9 ... main.(8+g_repeat) (conv3x3 .main.0, IN .main.1,
    conv3x3 .main.3, IN .main.4), two ConvTranspose2d 4x4 (weights [in, out, 4, 4];
    IN after each), the last conv7x7 (-> 3). No conv biases; each InstanceNorm
    holds weight, bias, running_mean, running_var and num_batches_tracked (I64, [])."""
    out = []

    def conv(layer, shape):
        out.append(("main.%s.weight" % layer, shape, "torch.float32"))

    def norm(layer, ch):
        for p in ("weight", "bias", "running_mean", "running_var"):
            out.append(("main.%s.%s" % (layer, p), [ch], "torch.float32"))
        out.append(("main.%s.num_batches_tracked" % layer, [], "torch.int64"))

    d = g_conv_dim
    conv(0, [d, 3 + c_dim, 7, 7])
    norm(1, d)
    for k in range(2):                       # [d, h, w] -> [2d, h/2, w/2]
        conv(3 + 3 * k, [2 * d, d, 4, 4])
        norm(4 + 3 * k, 2 * d)
        d *= 2
    for r in range(g_repeat):
        conv("%d.main.0" % (9 + r), [d, d, 3, 3])
        norm("%d.main.1" % (9 + r), d)
        conv("%d.main.3" % (9 + r), [d, d, 3, 3])
        norm("%d.main.4" % (9 + r), d)
    layer = 9 + g_repeat
    for k in range(2):                       # [d, h, w] -> [d/2, 2h, 2w]
        conv(layer, [d, d // 2, 4, 4])
        norm(layer + 1, d // 2)
        d //= 2
        layer += 3
    conv(layer, [3, d, 7, 7])
    return out


def network_sizes(sd):
    """g_conv_dim, c_dim and g_repeat as the reference Generator's layout implies
    them: conv_dim and 3 + c_dim from main.0.weight, repeat_num from the last
    ResidualBlock's index (their tensors are main.K.main.*, K = 9 ... 8+repeat)."""
    w0 = sd["main.0.weight"]
    blocks = [int(m.group(1)) for k in sd for m in [re.match(r"main\.(\d+)\.main\.", k)] if m]
    return int(w0.shape[0]), int(w0.shape[1]) - 3, max(blocks) - 8 if blocks else 0


def check_generator(path, sd, g_conv_dim, c_dim, g_repeat):
    """The whole state_dict against the layout the sizes imply: every tensor there,
    none more, each of its shape and dtype (what sg-sample checks when it loads)."""
    sizes = "conv_dim %d, c_dim %d, %d residual block%s" % (g_conv_dim, c_dim, g_repeat, "" if g_repeat == 1 else "s")
    bad = "%s: not the reference Generator's state_dict: " % path
    if not 1 <= g_conv_dim <= 4096 or g_repeat > 64:
        die(bad + "%s (sg-sample takes conv_dim 1..4096 and 0..64 residual blocks)" % sizes)
    layout = generator_layout(g_conv_dim, c_dim, g_repeat)
    counters = [name for name, _, _ in layout if name.endswith(".num_batches_tracked")]
    if counters and not any(name in sd for name in counters):
        # saved before PyTorch 0.4.1, which added the counter: PyTorch itself
        # loads such a file by starting every counter at 0, and so does this
        import torch
        for name in counters:
            sd[name] = torch.zeros((), dtype=torch.int64)
    missing = [name for name, _, _ in layout if name not in sd]
    if missing:
        die(bad + "missing tensor %s%s (%s)" % (missing[0], " and %d more" % (len(missing) - 1)
                                                 if len(missing) > 1 else "", sizes))
    known = {name for name, _, _ in layout}
    extra = [k for k in sd if k not in known]
    if extra:
        die(bad + "unexpected tensor %s%s (%s)" % (extra[0], " and %d more" % (len(extra) - 1)
                                                    if len(extra) > 1 else "", sizes))
    for name, shape, dtype in layout:
        v = sd[name]
        if list(v.shape) != shape:
            die(bad + "tensor %s: shape %s, expected %s (%s)" % (name, list(v.shape), shape, sizes))
        if str(v.dtype) != dtype:
            die(bad + "tensor %s: dtype %s, expected %s" % (name, v.dtype, dtype))


def raw_tensors(sd, layout):
    """[(name, safetensors dtype, shape, little-endian bytes)] in the layout's order."""
    out = []
    for name, shape, dtype in layout:
        v = sd[name].detach().cpu().contiguous()
        if dtype == "torch.int64":
            out.append((name, "I64", shape, v.numpy().astype("<i8").tobytes()))
        else:
            out.append((name, "F32", shape, v.numpy().astype("<f4").tobytes()))
    return out


def check_output(path, input_path, force):
    """Refuses, before anything is read or written, an OUTPUT that is the input
    (the same device and inode, through links too: a rename would replace the
    checkpoint being converted), a directory, and any other existing OUTPUT
    (a dangling link too) unless force."""
    try:
        out = os.stat(path)
    except OSError:
        out = None
    if out is not None:
        try:
            inp = os.stat(input_path)
        except OSError:
            inp = None                    # reported when the input is read
        if inp is not None and (out.st_dev, out.st_ino) == (inp.st_dev, inp.st_ino):
            die("%s: the output is the same file as the input %s; choose another output" % (path, input_path))
        if os.path.isdir(path):
            die("%s: is a directory (give the file to write, NNNNNN-G.safetensors)" % path)
    if (out is not None or os.path.islink(path)) and not force:
        die("%s: exists; give --force to replace it" % path)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)          # aligns the data for F32/I64
    parent = os.path.dirname(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    if parent and not os.path.isdir(parent):
        try:
            os.makedirs(parent)
        except OSError as e:
            why = "not a directory" if isinstance(e, FileExistsError) else os_error(e)   # a file in the way
            die("%s: cannot create its directory %s: %s" % (path, e.filename or parent, why))
    try:
        # O_EXCL: never write through a file or link that is already there
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for _, _, _, raw in tensors:
                f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        die("%s: %s" % (path, os_error(e)))   # the temporary file's name would puzzle
    try:                                       # the rename lasts a crash
        dfd = os.open(parent or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass                                   # the file is complete; only its durability is left to the system


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the reference's NNNNNN-G.ckpt")
    ap.add_argument("output", help="NNNNNN-G.safetensors to write (not an existing file unless --force)")
    ap.add_argument("--dataset", action="append", type=parse_dataset, required=True,
                    metavar="NAME[:KIND]=A,B,...",
                    help="a dataset and its labels in the model's order (repeat for several; "
                         "KIND one-hot or multi-hot, the default)")
    ap.add_argument("--image-size", type=int, default=128, help="image side the model was trained at (128)")
    ap.add_argument("--crop", action="append", default=[], metavar="[DATASET=]N",
                    help="center-crop side of its training data: N for every dataset, DATASET=N (its name, "
                         "or its number from 1) for one; repeat for several (default: the reference's, "
                         "178 for a multi-hot dataset, 256 for a one-hot one)")
    ap.add_argument("--d-conv-dim", type=int, default=64, help="D's conv_dim (recorded only; 64)")
    ap.add_argument("--d-repeat", type=int,
                    help="D's repeat_num (recorded only; default as sg-train: 6, fewer under 128 px so "
                         "that D's last map is at least 2x2, e.g. 4 at 32 px)")
    ap.add_argument("--step", type=int, help="iteration (default: the number in the file name)")
    ap.add_argument("--force", action="store_true",
                    help="replace an existing output file (never the input itself, by any name)")
    a = ap.parse_args()
    if a.image_size < 1:
        die("--image-size must be at least 1")
    if a.d_repeat is None:
        a.d_repeat = default_d_repeat(a.image_size)
    check_sizes(a.image_size, a.d_repeat)
    check_output(a.output, a.input, a.force)

    datasets = a.dataset
    check_datasets(datasets)
    crops = dataset_crops(datasets, a.crop)
    sd = load_state_dict(a.input)
    g_conv_dim, c_dim, g_repeat = network_sizes(sd)
    names = [n for _, _, labels in datasets for n in labels]
    want_c = len(names) + (len(datasets) if len(datasets) > 1 else 0)
    if want_c != c_dim:
        # One dataset given for a model with room for another one's labels and
        # a 2-entry mask: most likely the reference's --dataset Both model.
        other = c_dim - len(names) - 2
        # a second dataset of one label is no dataset (one-hot needs two classes)
        both = (" (if it is the reference's --dataset Both model, it takes both datasets' labels and a 2-dataset "
                "mask, here %d = %d + %d + 2: give a --dataset for each dataset, CelebA first)"
                % (c_dim, len(names), other) if len(datasets) == 1 and other >= 2 else "")
        die("%s: the generator takes %d label channels, but --dataset gives %d labels%s = %d%s"
                 % (a.input, c_dim, len(names),
                    " + a %d-dataset mask" % len(datasets) if len(datasets) > 1 else "", want_c, both))
    check_generator(a.input, sd, g_conv_dim, c_dim, g_repeat)
    tensors = raw_tensors(sd, generator_layout(g_conv_dim, c_dim, g_repeat))
    step = a.step
    if step is None:
        m = re.match(r"(\d+)", os.path.basename(a.input))
        step = int(m.group(1)) if m else 0
    ds_meta, off = [], 0
    for (name, kind, labels), crop in zip(datasets, crops):
        ds_meta.append({"name": name, "label_kind": kind, "offset": off, "labels": labels, "crop": crop})
        off += len(labels)
    metadata = {
        "format": FORMAT, "net": "G", "step": str(step),
        "image_size": str(a.image_size), "crop": str(crops[0]),
        "g_conv_dim": str(g_conv_dim), "g_repeat": str(g_repeat),
        "d_conv_dim": str(a.d_conv_dim), "d_repeat": str(a.d_repeat),
        "c_dim": str(c_dim), "cls_dim": str(len(names)), "n_datasets": str(len(datasets)),
        "datasets": json.dumps(ds_meta, separators=(",", ":")),
        "label_names": json.dumps(names, separators=(",", ":")),
        "mask": json.dumps({"offset": len(names), "size": len(datasets)}) if len(datasets) > 1 else "null",
        "source": "converted from " + os.path.basename(a.input),
    }
    write_safetensors(a.output, tensors, metadata)
    if len(datasets) == 2 and datasets[0][1] == "one-hot" and datasets[1][1] == "multi-hot":
        # The labels fit either order; the reference's Both model is [CelebA | RaFD | mask].
        print("%s: warning: %s (one-hot) is given before %s (multi-hot), but the reference's --dataset Both "
              "model has CelebA (multi-hot) first; if %s is one, convert it again with the --dataset options swapped"
              % (PROG, datasets[0][0], datasets[1][0], a.input), file=sys.stderr)
    print("%s: %d tensors, conv_dim %d, %d residual blocks, c_dim %d, step %d"
          % (a.output, len(tensors), g_conv_dim, g_repeat, c_dim, step))


if __name__ == "__main__":
    main()
