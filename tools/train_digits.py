#!/usr/bin/env python3
"""Train the bundled handwritten-character recogniser for comb cells (digits 0-9 and 'X').

    nice -n 10 python3 tools/train_digits.py     # numpy only, one CPU thread; about 25 + 25 + 25 minutes

One command, no downloads, no arguments: everything (seed, split, epochs) is fixed below, all
randomness comes from ``numpy.random.default_rng`` with fixed seeds, and BLAS runs on one
thread, so a rerun with the same numpy/OpenBLAS reproduces the weights. It writes

* ``assets/models/digits-cnn.bin``   the weights, read by ``src/model/mod.rs`` (``include_bytes!``);
* ``assets/models/digits-cnn-1.bin``, ``digits-cnn-2.bin`` (+ ``.json`` summaries) two more
  networks trained the same way but twice as wide, from different seeds (``MEMBERS``), the
  other members of the ensemble in ``src/model/ensemble.rs``;
* ``assets/models/README.md``        what was trained, how, and the measured results;
* ``tests/fixtures/digits-probe.bin`` 22 validation inputs with this script's output
  probabilities, so a Rust unit test can check that the Rust forward pass agrees with numpy.

Data
----
MNIST training set, ``../shared/data/mnist/train-{images.idx3,labels.idx1}-ubyte.gz``
(LeCun, Cortes & Burges; CC BY-SA 3.0). Only the first 50,000 images are ever decompressed:

* 0-44,999      training
* 45,000-49,999 validation (the accuracy printed and recorded below)
* 50,000-54,999 reserved for threshold calibration and 55,000-59,999 for the synthetic test
  pages (``assets/digits/mnist-synth.bin.gz``): never read here, so neither leaks into training.

MNIST has no 'X' (the check character of Chinese ID numbers), so class 10 is synthesised:
two crossing strokes (quadratic curves with random thickness 1.5-3.5 px, slant, aspect, arm
length, curvature and endpoint jitter), rendered anti-aliased with the longer side of the ink
box at 20 px and then shifted by whole pixels so the centre of mass lands on (14, 14), which
is the MNIST preparation. 4,500 training X (about one digit class) and 500 validation X, from
seeds separate from the digit data.

Every epoch re-augments on the fly (all of it in ``augment``):

* stroke width: grey dilation (10 %) or erosion (10 %) with a 1 px cross;
* geometry, one bilinear resampling per image: rotation (sd 5 deg, at most 10), shear (sd 0.12,
  at most 0.3), aspect (sd 6 %, at most 15 %), then the MNIST re-normalisation (ink box longer
  side 20 px, centre of mass at (14, 14)), then a residual scale (0.98, sd 0.05, within
  0.85-1.1) and offset (sd 0.5 px, at most 2 px) standing in for imperfect normalisation of
  real cells. The draws are concentrated near the identity because uniform draws over the
  full ranges left this small network underfitting (98.9 % validation instead of 99.1 %).
  Half of the images are also distorted elastically in the same resampling (Simard et al.
  2003: a smooth random displacement field, here 5x5 control points with sd 0.9 px): with
  30 epochs instead of 12 it took the primary network from 99.26 % to 99.38 % on validation
  and made it surer of itself (readings below p = 0.999: 9.1 % of validation digits, from
  14.1 %), which is what lets whole fields be accepted;
* contrast x0.8-1.25, blur (15 %), 2x2 blockiness with grey-level quantisation (5 %, a poor
  man's JPEG), "box-line remnants" (12 %: faint or partial straight lines along one or two
  borders, rows/columns 0-3, as left by imperfect removal of the printed comb boxes), and
  Gaussian noise (25 %).

Input convention (shared with ``src/model.rs``)
-----------------------------------------------
A 28x28 float image, row-major, in [0, 1], ink = 1, paper = 0; the character's ink box scaled
(aspect preserved) so its longer side is 20 px; centre of mass at row 14, column 14 where
pixel (r, c) has its centre at (r, c). This is MNIST's preparation (LeCun et al. 1998).

Model
-----
Input 1x28x28 (widths C1/C2/HIDDEN = 16/32/128 below; the wide member is 32/64/128)
-> conv 3x3 valid, 1->16, +bias, ReLU  -> 16x26x26 -> max-pool 2x2 stride 2 -> 16x13x13
-> conv 3x3 valid, 16->32, +bias, ReLU -> 32x11x11 -> max-pool 2x2 stride 2 (floor: the last
   row and column are dropped) -> 32x5x5
-> flatten in (channel, row, column) order -> 800 (25 * C2)
-> dense 800->128, +bias, ReLU -> dense 128->11, +bias -> softmax.
"conv" is cross-correlation (no kernel flip), as in every deep-learning library:
``out[o, y, x] = b[o] + sum_{i, ky, kx} w[o, i, ky, kx] * in[i, y + ky, x + kx]``.
Trained with softmax cross-entropy, Adam (lr 2e-3, cosine decay), minibatch 128, He init,
with a batch norm after conv2 and after fc1 (before pooling/ReLU). The batch norms are folded
into conv2 and fc1 when exporting (``fold``), so the file holds plain layers. Implemented here
with im2col + numpy matmul in NHWC layout, forward and backward by hand (gradient-checked);
the weights are transposed to the PyTorch-style axis order below when written.

Weight file ``digits-cnn.bin`` (all little-endian)
--------------------------------------------------
* 8 bytes magic ``b"FSCNN1\\0\\0"``
* then exactly 8 tensors, in this order, each as ``u32 ndim``, ``ndim x u32 dims``, then
  ``prod(dims) x f32`` data in row-major (C) order, last axis fastest:

  ====  ============  =================  ==============================================
  #     tensor        dims               axis order
  ====  ============  =================  ==============================================
  0     conv1.weight  [16, 1, 3, 3]      [out channel, in channel, kernel row, kernel col]
  1     conv1.bias    [16]
  2     conv2.weight  [32, 16, 3, 3]     [out channel, in channel, kernel row, kernel col]
  3     conv2.bias    [32]
  4     fc1.weight    [128, 800]         [out, in]; in = channel * 25 + row * 5 + col
  5     fc1.bias      [128]
  6     fc2.weight    [11, 128]          [out, in]; out = class '0'..'9', 'X'
  7     fc2.bias      [11]
  ====  ============  =================  ==============================================

  Nothing follows the last tensor.

Probe fixture ``digits-probe.bin`` (little-endian)
--------------------------------------------------
magic ``b"FSPROBE1"``, ``u32 n`` (22), ``u32 784``, ``u32 11``, then ``n x 784 f32`` inputs
(the convention above), ``n x 11 f32`` softmax probabilities from this script's forward pass
of the folded network (float32 throughout), ``n x u8`` labels (0-10). The inputs are the first two validation images
of each digit class (MNIST index >= 45,000) and the first two validation X.
"""
import gzip
import json
import os
import struct
import sys
import time

# One BLAS thread: the matrices here are small and narrow, so a second OpenBLAS thread loses
# more to synchronisation than it gains (10x slower for some products on a busy 2-core
# machine), and a fixed thread count keeps float summation order, hence the weights, repeatable.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402  (after the thread settings, which numpy reads on import)

SEED = 1998
BATCH = 128
# Layer widths and epochs of the member being trained; set by main() from MEMBERS.
C1, C2, HIDDEN, FLAT, EPOCHS = 16, 32, 128, 800, 30
LR = 2e-3
N_TRAIN = 45_000
N_VAL_END = 50_000          # validation is [N_TRAIN, N_VAL_END); nothing at or above is read
N_X_TRAIN = 4_500
N_X_VAL = 500
N_CLASSES = 11
CLASSES = "0123456789X"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
MNIST = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "mnist"))
OUT_MODEL = os.path.join(ROOT, "assets", "models", "digits-cnn.bin")
OUT_README = os.path.join(ROOT, "assets", "models", "README.md")
OUT_PROBE = os.path.join(ROOT, "tests", "fixtures", "digits-probe.bin")
# The ensemble, trained in this order (``--member K`` trains one). Member 0 is the primary
# network, which reads every cell; the others are consulted when it is unsure
# (src/model/ensemble.rs). The others are twice as wide: too slow to read every cell within
# the 2 ms budget of an 18-cell field, but affordable for the seventh of the cells the cascade
# sends on (and the fortieth it sends to the third). Member 1 shares the primary's seed, which
# still gives different draws, since the wider initialisation consumes more of the generator;
# member 2 has its own. Fields: file, seed, (conv1, conv2, dense) widths, epochs.
MEMBERS = [
    ("digits-cnn.bin", 1998, (16, 32, 128), 30),
    ("digits-cnn-1.bin", 1998, (32, 64, 128), 24),
    ("digits-cnn-2.bin", 2026, (32, 64, 128), 24),
]


def member_path(member):
    return os.path.join(ROOT, "assets", "models", MEMBERS[member][0])


# ----------------------------------------------------------------------------------- data

def load_mnist(n):
    """The first `n` MNIST training images as float32 [0, 1] (n, 28, 28) and their labels.

    Reads the gzip streams only up to image `n`, so the calibration and test images that
    follow are never even decompressed."""
    with gzip.open(os.path.join(MNIST, "train-images.idx3-ubyte.gz")) as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051 and rows == 28 and cols == 28 and count >= n, "not MNIST images"
        img = np.frombuffer(f.read(n * 784), np.uint8).reshape(n, 28, 28)
    with gzip.open(os.path.join(MNIST, "train-labels.idx1-ubyte.gz")) as f:
        magic, count = struct.unpack(">II", f.read(8))
        assert magic == 2049 and count >= n, "not MNIST labels"
        lab = np.frombuffer(f.read(n), np.uint8)
    assert len(img) == n and len(lab) == n
    return img.astype(np.float32) / 255.0, lab.astype(np.int64)


def com_shift(img):
    """Shift by whole pixels so the centre of mass is at (14, 14): MNIST's centring."""
    m = img.sum()
    r = np.arange(28)
    cy = (img.sum(1) * r).sum() / m
    cx = (img.sum(0) * r).sum() / m
    return shift(img[None], int(round(14 - cy)), int(round(14 - cx)))[0]


def quad(p0, p1, p2, n=16):
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def synth_x(rng):
    """One handwritten-looking 'X': two crossing strokes, MNIST-normalised (see module doc)."""
    aspect = rng.uniform(0.55, 1.1)                 # width / height of the letter
    slant = rng.uniform(-0.3, 0.3)
    rot = np.deg2rad(rng.uniform(-8, 8))
    # Endpoints of the "\" stroke and the "/" stroke in a unit box (x right, y down).
    ends = np.array([[0, 0], [1, 1], [1, 0], [0, 1]], float) + rng.normal(0, 0.07, (4, 2))
    # Arm length: one end of each stroke may stop short or overshoot along the stroke.
    for a, b in ((0, 1), (2, 3)):
        d = ends[b] - ends[a]
        k = rng.integers(2)
        e = rng.uniform(-0.18, 0.12)
        if k == 0:
            ends[a] -= e * d
        else:
            ends[b] += e * d
    strokes = []
    for a, b in ((0, 1), (2, 3)):
        p0, p2 = ends[a], ends[b]
        d = p2 - p0
        normal = np.array([-d[1], d[0]])
        p1 = (p0 + p2) / 2 + normal * rng.uniform(-0.18, 0.18) + rng.normal(0, 0.03, 2)
        strokes.append(quad(p0, p1, p2))
    pts = np.concatenate(strokes)
    pts = pts - 0.5
    pts[:, 0] *= aspect
    pts[:, 0] -= slant * pts[:, 1]                 # y down: negative y (top) moves right for slant > 0
    c, s = np.cos(rot), np.sin(rot)
    rotm = np.array([[c, -s], [s, c]])
    pts = pts @ rotm.T
    strokes = [pts[:16], pts[16:]]
    thick = rng.uniform(1.5, 3.5)
    lo, hi = pts.min(0), pts.max(0)
    k = (20.0 - thick) / (hi - lo).max()            # ink box = centre-line box + stroke width
    mid = (lo + hi) / 2
    # 3x3 supersampling of every pixel for anti-aliasing.
    yy, xx = np.meshgrid(np.arange(84) / 3.0 - 1 / 3.0, np.arange(84) / 3.0 - 1 / 3.0, indexing="ij")
    qx, qy = xx.ravel().astype(np.float32), yy.ravel().astype(np.float32)
    d2 = np.full(len(qx), np.inf, np.float32)
    for st in strokes:
        s_pts = ((st - mid) * k + 14.0).astype(np.float32)
        for (ax, ay), (bx, by) in zip(s_pts[:-1], s_pts[1:]):
            ux, uy = bx - ax, by - ay
            t = np.clip(((qx - ax) * ux + (qy - ay) * uy) / max(ux * ux + uy * uy, 1e-9), 0, 1)
            ex, ey = qx - ax - t * ux, qy - ay - t * uy
            np.minimum(d2, ex * ex + ey * ey, out=d2)
    dist = np.sqrt(d2)
    cover = (dist <= thick / 2).astype(np.float32).reshape(84, 84)
    img = cover.reshape(28, 3, 28, 3).mean((1, 3))
    return com_shift(img.astype(np.float32))


def make_x(n, seed):
    rng = np.random.default_rng(seed)
    return np.stack([synth_x(rng) for _ in range(n)])


# ---------------------------------------------------------------------------- augmentation

GRID = np.stack(np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="xy"), -1).reshape(784, 2)  # (x, y)


def shift(x, dy, dx):
    """Shift a batch (B, 28, 28) by whole pixels with zero fill."""
    out = np.zeros_like(x)
    ys, yd = (slice(0, 28 - dy), slice(dy, 28)) if dy >= 0 else (slice(-dy, 28), slice(0, 28 + dy))
    xs, xd = (slice(0, 28 - dx), slice(dx, 28)) if dx >= 0 else (slice(-dx, 28), slice(0, 28 + dx))
    out[:, yd, xd] = x[:, ys, xs]
    return out


def cross_nbrs(x):
    return [x, shift(x, 1, 0), shift(x, -1, 0), shift(x, 0, 1), shift(x, 0, -1)]


ELASTIC_P = 0.5            # share of images distorted
ELASTIC_SD = 0.9           # px, standard deviation of a control point's displacement
# Bilinear upsampling weights from a 5x5 control grid to 28x28 (the grid spans the image).
_U = np.zeros((28, 5), np.float32)
for _i in range(28):
    _t = _i * 4 / 27.0
    _k = min(int(_t), 3)
    _U[_i, _k] += 1 - (_t - _k)
    _U[_i, _k + 1] += _t - _k


def elastic_field(b, rng):
    """Elastic distortion (Simard, Steinkraus & Platt 2003, "Best practices for convolutional
    neural networks applied to visual document analysis"): a smooth random displacement field,
    here independent Gaussian displacements on a 5x5 control grid interpolated bilinearly to
    every pixel (a cheap stand-in for their Gaussian-filtered per-pixel noise), applied to a
    share of the images. Returns per-output-pixel source offsets (b, 784) in pixels."""
    on = (rng.random(b) < ELASTIC_P).astype(np.float32)[:, None, None]
    g = rng.normal(0, ELASTIC_SD, (2, b, 5, 5)).astype(np.float32) * on
    f = np.einsum("ik,nkl,jl->nij", _U, g.reshape(2 * b, 5, 5), _U).reshape(2, b, 784)
    return f[0], f[1]


def warp_renormalise(x, rng):
    """Random rotation/shear/aspect, then MNIST re-normalisation (ink box 20 px, centre of
    mass at (14, 14)), then a small residual scale/offset; one bilinear resampling."""
    b = len(x)
    # Ranges as in the module doc, but most draws near the identity: the network is small,
    # and uniform draws over the full ranges left it underfitting clean digits.
    ang = np.deg2rad(np.clip(rng.normal(0, 5, b), -10, 10))
    sh = np.clip(rng.normal(0, 0.12, b), -0.3, 0.3)
    asp = np.exp(np.clip(rng.normal(0, 0.06, b), -0.15, 0.15))
    c, s = np.cos(ang), np.sin(ang)
    # a = rotation @ [[asp, sh], [0, 1/asp]], acting on (x, y) column vectors.
    a00, a01 = c * asp, c * sh - s / asp
    a10, a11 = s * asp, s * sh + c / asp
    flat = x.reshape(b, 784)
    mass = flat.sum(1)
    gx, gy = GRID[:, 0].astype(np.float32), GRID[:, 1].astype(np.float32)
    cx, cy = flat @ gx / mass, flat @ gy / mass
    dx, dy = gx[None] - cx[:, None], gy[None] - cy[:, None]                     # (b, 784)
    qx = a00[:, None] * dx + a01[:, None] * dy
    qy = a10[:, None] * dx + a11[:, None] * dy
    # The ink box (pixels at least half the darkest) after the warp, in pixel counts.
    ink = flat > 0.5 * flat.max(1, keepdims=True)
    ext_x = np.where(ink, qx, -np.inf).max(1) - np.where(ink, qx, np.inf).min(1) + 1
    ext_y = np.where(ink, qy, -np.inf).max(1) - np.where(ink, qy, np.inf).min(1) + 1
    scale = 20.0 / np.maximum(ext_x, ext_y) * np.clip(rng.normal(0.98, 0.05, b), 0.85, 1.1)
    off = np.clip(rng.normal(0, 0.5, (b, 2)), -2, 2)
    # Inverse of (scale * a): output pixel -> source position (centre of mass is mass-weighted,
    # so it moves with the affine map and lands on 14 + off).
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    ox = (gx[None] - 14.0 - off[:, :1]) / scale[:, None]
    oy = (gy[None] - 14.0 - off[:, 1:]) / scale[:, None]
    sx = i00[:, None] * ox + i01[:, None] * oy + cx[:, None] + 1                # padded coords
    sy = i10[:, None] * ox + i11[:, None] * oy + cy[:, None] + 1
    ex, ey = elastic_field(b, rng)
    sx = sx + ex
    sy = sy + ey
    x0 = np.floor(sx)
    y0 = np.floor(sy)
    fx, fy = (sx - x0).astype(np.float32), (sy - y0).astype(np.float32)
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    pad = np.zeros((b, 31, 31), np.float32)   # one zero row/column before, two after
    pad[:, 1:29, 1:29] = x
    pad = pad.reshape(b, 961)
    inside = (x0 >= 0) & (x0 < 30) & (y0 >= 0) & (y0 < 30)
    base = np.where(inside, y0 * 31 + x0, 0)
    v00 = np.take_along_axis(pad, base, 1)
    v01 = np.take_along_axis(pad, base + 1, 1)
    v10 = np.take_along_axis(pad, base + 31, 1)
    v11 = np.take_along_axis(pad, base + 32, 1)
    out = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy
    return np.where(inside, out, 0).reshape(b, 28, 28).astype(np.float32)


def box_remnants(x, rng, p=0.15):
    """Faint or partial straight lines in rows/columns 0-3 of one or two borders."""
    for i in np.nonzero(rng.random(len(x)) < p)[0]:
        for side in rng.choice(4, size=rng.integers(1, 3), replace=False):
            pos = rng.integers(0, 4)
            if side >= 2:
                pos = 27 - pos
            a, b = sorted(rng.integers(0, 29, 2))
            if rng.random() < 0.4:
                a, b = 0, 28
            if b - a < 4:
                b = min(28, a + 8)
            v = rng.uniform(0.15, 0.9)
            width = 1 + (rng.random() < 0.3)
            for k in range(width):
                pp = min(27, max(0, pos + (k if pos < 14 else -k)))
                if side % 2 == 0:
                    x[i, pp, a:b] = np.maximum(x[i, pp, a:b], v)
                else:
                    x[i, a:b, pp] = np.maximum(x[i, a:b, pp], v)
    return x


def augment(x, rng):
    x = x.copy()
    b = len(x)
    # Stroke width: pens and scanners vary; grey dilation/erosion with a 1 px cross.
    u = rng.random(b)
    dil = u < 0.1
    if dil.any():
        x[dil] = np.max(cross_nbrs(x[dil]), 0)
    ero = (u >= 0.1) & (u < 0.2)
    if ero.any():
        orig = x[ero]
        e = np.min(cross_nbrs(orig), 0)
        keep = e.sum((1, 2)) > 0.45 * orig.sum((1, 2))          # thin strokes would vanish
        x[ero] = np.where(keep[:, None, None], e, 0.5 * (orig + e))
    x = warp_renormalise(x, rng)
    x *= rng.uniform(0.8, 1.25, (b, 1, 1)).astype(np.float32)
    np.clip(x, 0, 1, out=x)
    bl = rng.random(b) < 0.15
    if bl.any():
        y = x[bl]
        y = 0.5 * y + 0.25 * (shift(y, 1, 0) + shift(y, -1, 0))
        y = 0.5 * y + 0.25 * (shift(y, 0, 1) + shift(y, 0, -1))
        t = rng.uniform(0.5, 1.0, (len(y), 1, 1)).astype(np.float32)
        x[bl] = t * y + (1 - t) * x[bl]
    jp = rng.random(b) < 0.05
    if jp.any():
        y = x[jp].reshape(-1, 14, 2, 14, 2).mean((2, 4))
        y = np.repeat(np.repeat(y, 2, 1), 2, 2)
        x[jp] = np.round((0.5 * x[jp] + 0.5 * y) * 12) / 12
    x = box_remnants(x, rng, 0.12)
    nz = rng.random(b) < 0.25
    if nz.any():
        sd = rng.uniform(0.02, 0.08, (nz.sum(), 1, 1))
        x[nz] += (rng.normal(0, 1, x[nz].shape) * sd).astype(np.float32)
    np.clip(x, 0, 1, out=x)
    return x


# ----------------------------------------------------------------------------------- model

def im2col(x):
    """(N, H, W, C) -> (N, H-2, W-2, 9*C), column index (ky*3 + kx)*C + c."""
    h, w = x.shape[1] - 2, x.shape[2] - 2
    return np.concatenate([x[:, ky:ky + h, kx:kx + w, :] for ky in range(3) for kx in range(3)], -1)


def pool_fwd(x):
    """2x2 max-pool, stride 2, floor. Remembers the FIRST maximum of each window: background
    windows are exact ties (same bias everywhere), and routing the gradient to all tied
    positions would count it up to four times."""
    h2, w2 = x.shape[1] // 2, x.shape[2] // 2
    a, b = x[:, 0:2 * h2:2, 0:2 * w2:2], x[:, 0:2 * h2:2, 1:2 * w2:2]
    c, d = x[:, 1:2 * h2:2, 0:2 * w2:2], x[:, 1:2 * h2:2, 1:2 * w2:2]
    out = np.maximum(np.maximum(a, b), np.maximum(c, d))
    ma = a == out
    mb = (b == out) & ~ma
    taken = ma | mb
    mc = (c == out) & ~taken
    md = ~(taken | mc)
    return out, (ma, mb, mc, md, x.shape)


def pool_bwd(d, cache):
    ma, mb, mc, md, shape = cache
    h2, w2 = d.shape[1], d.shape[2]
    dx = np.zeros(shape, d.dtype)
    dx[:, 0:2 * h2:2, 0:2 * w2:2] = d * ma
    dx[:, 0:2 * h2:2, 1:2 * w2:2] = d * mb
    dx[:, 1:2 * h2:2, 0:2 * w2:2] = d * mc
    dx[:, 1:2 * h2:2, 1:2 * w2:2] = d * md
    return dx


BN_EPS = 1e-5
BN_MOMENTUM = 0.9


def init_params(rng):
    def he(fan_in, shape):
        return (rng.normal(0, 1, shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    one = lambda n: np.ones(n, np.float32)
    zero = lambda n: np.zeros(n, np.float32)
    return {
        "w1": he(9, (9, C1)), "b1": zero(C1),
        "w2": he(9 * C1, (9 * C1, C2)), "g2": one(C2), "be2": zero(C2),
        "w3": he(FLAT, (FLAT, HIDDEN)), "g3": one(HIDDEN), "be3": zero(HIDDEN),
        "w4": (rng.normal(0, 1, (HIDDEN, 11)) * np.sqrt(1.0 / HIDDEN)).astype(np.float32),
        "b4": zero(11),
        # Batch-norm running statistics: state, not trained by Adam.
        "rm2": zero(C2), "rv2": one(C2), "rm3": zero(HIDDEN), "rv3": one(HIDDEN),
    }


STATE = ("rm2", "rv2", "rm3", "rv3")


def bn_fwd(z, p, layer, train):
    """Batch normalisation over the rows of z (M, C). Training uses the batch statistics and
    updates the running ones; evaluation uses the running ones, which is what the export
    folds into the preceding layer's weights and bias."""
    g, be = p["g" + layer], p["be" + layer]
    if not train:
        return (z - p["rm" + layer]) * (g / np.sqrt(p["rv" + layer] + BN_EPS)) + be, None
    mu = z.mean(0)
    var = z.var(0)
    inv = 1.0 / np.sqrt(var + BN_EPS)                    # float32 stays float32
    xh = (z - mu) * inv
    m = len(z)
    p["rm" + layer] = (BN_MOMENTUM * p["rm" + layer] + (1 - BN_MOMENTUM) * mu).astype(np.float32)
    p["rv" + layer] = (BN_MOMENTUM * p["rv" + layer] + (1 - BN_MOMENTUM) * var * m / (m - 1)).astype(np.float32)
    return xh * g + be, (xh, inv)


def bn_bwd(dy, cache, p, layer, grads):
    xh, inv = cache
    grads["g" + layer] = (dy * xh).sum(0)
    grads["be" + layer] = dy.sum(0)
    dxh = dy * p["g" + layer]
    m = len(dy)
    return (inv / m) * (m * dxh - dxh.sum(0) - xh * (dxh * xh).sum(0))


def forward(p, x, train=False):
    """x: (N, 28, 28) float32. Returns logits (N, 11) and, if train, the backward cache.

    ReLU is applied after pooling: max-pool and ReLU commute (batch norm comes before both),
    and the pooled tensor is four times smaller."""
    n = len(x)
    c1 = im2col(x[..., None])                                   # (N,26,26,9)
    z1 = (c1.reshape(-1, 9) @ p["w1"] + p["b1"]).reshape(n, 26, 26, C1)
    m1, pc1 = pool_fwd(z1)                                      # (N,13,13,16)
    q1 = np.maximum(m1, 0)
    c2 = im2col(q1)                                             # (N,11,11,144)
    z2 = c2.reshape(-1, 9 * C1) @ p["w2"]
    y2, bc2 = (z2 + p["b2"], None) if "b2" in p else bn_fwd(z2, p, "2", train)
    m2, pc2 = pool_fwd(y2.reshape(n, 11, 11, C2))               # (N,5,5,32)
    f = np.maximum(m2, 0).reshape(n, FLAT)                       # (row, col, channel) order
    z3 = f @ p["w3"]
    y3, bc3 = (z3 + p["b3"], None) if "b3" in p else bn_fwd(z3, p, "3", train)
    a3 = np.maximum(y3, 0)
    logits = a3 @ p["w4"] + p["b4"]
    if not train:
        return logits
    return logits, (c1, pc1, m1, q1, c2, bc2, pc2, m2, f, bc3, y3, a3)


def backward(p, cache, dlogits):
    c1, pc1, m1, q1, c2, bc2, pc2, m2, f, bc3, y3, a3 = cache
    n = len(dlogits)
    g = {}
    g["w4"] = a3.T @ dlogits
    g["b4"] = dlogits.sum(0)
    dz3 = bn_bwd((dlogits @ p["w4"].T) * (y3 > 0), bc3, p, "3", g)
    g["w3"] = f.T @ dz3
    dm2 = (dz3 @ p["w3"].T).reshape(n, 5, 5, C2) * (m2 > 0)
    dz2 = bn_bwd(pool_bwd(dm2, pc2).reshape(-1, C2), bc2, p, "2", g)
    g["w2"] = c2.reshape(-1, 9 * C1).T @ dz2
    # col2im, one kernel tap at a time so every product lands in a contiguous block.
    dq1 = np.zeros(q1.shape, np.float32)
    for k in range(9):
        ky, kx = divmod(k, 3)
        dq1[:, ky:ky + 11, kx:kx + 11, :] += (dz2 @ p["w2"][k * C1:(k + 1) * C1].T).reshape(n, 11, 11, C1)
    dm1 = dq1 * (m1 > 0)
    dz1 = pool_bwd(dm1, pc1).reshape(-1, C1)
    g["w1"] = c1.reshape(-1, 9).T @ dz1
    g["b1"] = dz1.sum(0)
    return g


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def predict(p, x, bs=1000):
    return np.concatenate([softmax(forward(p, x[i:i + bs])) for i in range(0, len(x), bs)])


# ---------------------------------------------------------------------------------- output

def fold(p):
    """The inference network: the batch norms folded into the layers before them.
    BN(W x) = (W x - mean) * g / sqrt(var + eps) + beta is a layer with weights W * s and bias
    beta - mean * s, where s = g / sqrt(var + eps). forward() runs this dict too."""
    s2 = p["g2"].astype(np.float64) / np.sqrt(p["rv2"].astype(np.float64) + BN_EPS)
    s3 = p["g3"].astype(np.float64) / np.sqrt(p["rv3"].astype(np.float64) + BN_EPS)
    f = {
        "w1": p["w1"], "b1": p["b1"],
        "w2": p["w2"] * s2[None, :], "b2": p["be2"] - p["rm2"] * s2,
        "w3": p["w3"] * s3[None, :], "b3": p["be3"] - p["rm3"] * s3,
        "w4": p["w4"], "b4": p["b4"],
    }
    return {k: v.astype(np.float32) for k, v in f.items()}


def export_tensors(f):
    """Folded weights (see fold) in file order and axis order (see module docstring)."""
    w2, b2, w3, b3 = f["w2"], f["b2"], f["w3"], f["b3"]
    f32 = lambda a: np.ascontiguousarray(a, dtype="<f4")
    return [
        ("conv1.weight", f32(f["w1"].reshape(3, 3, 1, C1).transpose(3, 2, 0, 1))),
        ("conv1.bias", f32(f["b1"])),
        ("conv2.weight", f32(w2.reshape(3, 3, C1, C2).transpose(3, 2, 0, 1))),
        ("conv2.bias", f32(b2)),
        # NHWC flatten is (row, col, channel); the file uses (channel, row, col).
        ("fc1.weight", f32(w3.reshape(5, 5, C2, HIDDEN).transpose(3, 2, 0, 1).reshape(HIDDEN, FLAT))),
        ("fc1.bias", f32(b3)),
        ("fc2.weight", f32(f["w4"].T)),
        ("fc2.bias", f32(f["b4"])),
    ]


def write_model(path, f):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(b"FSCNN1\0\0")
        for _, t in export_tensors(f):
            out.write(struct.pack("<I", t.ndim))
            out.write(struct.pack("<%dI" % t.ndim, *t.shape))
            out.write(t.tobytes())


def reference_forward(tensors, x):
    """Direct-loop forward pass on the exported tensors: checks the export's axis order."""
    w1, b1, w2, b2, w3, b3, w4, b4 = [t for _, t in tensors]
    n = len(x)
    def conv(inp, w, b):                                        # inp (N, C, H, W)
        h, wd = inp.shape[2] - 2, inp.shape[3] - 2
        out = np.zeros((n, w.shape[0], h, wd), np.float32) + b[None, :, None, None]
        for ky in range(3):
            for kx in range(3):
                out += np.einsum("oi,nihw->nohw", w[:, :, ky, kx], inp[:, :, ky:ky + h, kx:kx + wd])
        return np.maximum(out, 0)
    def pool(a):
        h, w = a.shape[2] // 2, a.shape[3] // 2
        return a[:, :, :2 * h, :2 * w].reshape(n, a.shape[1], h, 2, w, 2).max((3, 5))
    a = pool(conv(pool(conv(x[:, None], w1, b1)), w2, b2)).reshape(n, -1)
    a = np.maximum(a @ w3.T + b3, 0)
    return softmax(a @ w4.T + b4)


def write_probe(path, x, probs, labels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"FSPROBE1")
        f.write(struct.pack("<III", len(x), 784, 11))
        f.write(np.ascontiguousarray(x, "<f4").tobytes())
        f.write(np.ascontiguousarray(probs, "<f4").tobytes())
        f.write(np.asarray(labels, np.uint8).tobytes())


def confusion(pred, true):
    m = np.zeros((N_CLASSES, N_CLASSES), np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def format_confusion(m):
    lines = ["true\\pred " + " ".join("%5s" % c for c in CLASSES)]
    for i in range(N_CLASSES):
        lines.append("%9s " % CLASSES[i] + " ".join("%5d" % v for v in m[i]))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ main

def main(member=0):
    """Trains ensemble member `member` (0 is the primary network, which also writes the probe
    fixture and the README); members differ in the seed of initialisation, shuffling and
    augmentation, which is what makes their mistakes differ (Lakshminarayanan et al. 2017,
    "Simple and scalable predictive uncertainty estimation using deep ensembles"), and in
    width (see MEMBERS)."""
    global C1, C2, HIDDEN, FLAT, EPOCHS
    t0 = time.time()
    _, seed, (C1, C2, HIDDEN), EPOCHS = MEMBERS[member]
    FLAT = 25 * C2
    print("member %d: %s, seed %d, widths %d/%d/%d, %d epochs" % ((member, MEMBERS[member][0], seed, C1, C2, HIDDEN, EPOCHS)))
    rng = np.random.default_rng(seed)
    x_all, y_all = load_mnist(N_VAL_END)
    x_tr, y_tr = x_all[:N_TRAIN], y_all[:N_TRAIN]
    x_va, y_va = x_all[N_TRAIN:], y_all[N_TRAIN:]
    xx_tr = make_x(N_X_TRAIN, SEED + 1)
    xx_va = make_x(N_X_VAL, SEED + 2)
    x_tr = np.concatenate([x_tr, xx_tr])
    y_tr = np.concatenate([y_tr, np.full(N_X_TRAIN, 10)])
    print("data: %d train (%d synthetic X), %d validation digits + %d validation X; %.1f s"
          % (len(x_tr), N_X_TRAIN, len(x_va), N_X_VAL, time.time() - t0), flush=True)

    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items() if k not in STATE}
    v = {k: np.zeros_like(v) for k, v in p.items() if k not in STATE}
    steps_per_epoch = len(x_tr) // BATCH
    total = EPOCHS * steps_per_epoch
    step = 0
    history = []
    for epoch in range(EPOCHS):
        te = time.time()
        order = rng.permutation(len(x_tr))
        loss_sum, correct, seen = 0.0, 0, 0
        for s in range(steps_per_epoch):
            idx = order[s * BATCH:(s + 1) * BATCH]
            xb = augment(x_tr[idx], rng)
            yb = y_tr[idx]
            logits, cache = forward(p, xb, train=True)
            pr = softmax(logits)
            loss_sum += -np.log(pr[np.arange(len(yb)), yb] + 1e-12).sum()
            correct += (pr.argmax(1) == yb).sum()
            seen += len(yb)
            d = pr.copy()
            d[np.arange(len(yb)), yb] -= 1
            g = backward(p, cache, (d / len(yb)).astype(np.float32))
            step += 1
            lr = LR * 0.5 * (1 + np.cos(np.pi * step / total)) + 2e-5
            b1c, b2c = 1 - 0.9 ** step, 1 - 0.999 ** step
            for k in m:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v[k] = 0.999 * v[k] + 0.001 * g[k] * g[k]
                p[k] -= (lr * (m[k] / b1c) / (np.sqrt(v[k] / b2c) + 1e-8)).astype(np.float32)
        acc_d = (predict(p, x_va).argmax(1) == y_va).mean()
        acc_x = (predict(p, xx_va).argmax(1) == 10).mean()
        history.append((epoch + 1, loss_sum / seen, correct / seen, acc_d, acc_x, time.time() - te))
        print("epoch %2d/%d  train loss %.4f  train acc (augmented) %.4f  val digits %.4f  val X %.4f  %.0f s"
              % ((epoch + 1, EPOCHS) + history[-1][1:]), flush=True)

    train_time = time.time() - t0
    # Everything from here on uses the folded network, which is what the file holds.
    bn_eval = predict(p, x_va)
    p = fold(p)
    pv_d = predict(p, x_va)
    pv_x = predict(p, xx_va)
    print("folded vs batch-norm network on validation: max |dp| = %.2e" % np.abs(pv_d - bn_eval).max())
    acc_d = (pv_d.argmax(1) == y_va).mean()
    acc_x = (pv_x.argmax(1) == 10).mean()
    conf = confusion(np.concatenate([pv_d.argmax(1), pv_x.argmax(1)]),
                     np.concatenate([y_va, np.full(N_X_VAL, 10)]))
    print("\nconfusion on validation (rows: truth, columns: prediction)")
    print(format_confusion(conf))
    off = [(conf[i, j], CLASSES[i], CLASSES[j]) for i in range(11) for j in range(11) if i != j and conf[i, j]]
    off.sort(reverse=True)
    print("most frequent confusions: " + ", ".join("%s->%s %d" % (a, b, c) for c, a, b in off[:8]))
    print("validation accuracy: digits %.4f (%d/%d), X %.4f (%d/%d)"
          % (acc_d, (pv_d.argmax(1) == y_va).sum(), len(y_va), acc_x, (pv_x.argmax(1) == 10).sum(), N_X_VAL))

    tensors = export_tensors(p)
    if member > 0:
        path = member_path(member)
        write_model(path, p)
        with open(path[:-4] + ".json", "w") as f:
            json.dump({"member": member, "seed": seed, "widths": [C1, C2, HIDDEN], "epochs": EPOCHS, "val_digits": float(acc_d),
                       "val_x": float(acc_x), "train_seconds": round(train_time)}, f, indent=1)
        print("wrote %s; total wall time %.0f s" % (path, time.time() - t0))
        return 0
    write_model(OUT_MODEL, p)

    # Probe: first two validation inputs of each class, with the float32 forward pass output.
    pick = []
    for c in range(10):
        pick += [("d", i) for i in np.nonzero(y_va == c)[0][:2]]
    pick += [("x", 0), ("x", 1)]
    px = np.stack([x_va[i] if k == "d" else xx_va[i] for k, i in pick]).astype(np.float32)
    pl = [int(y_va[i]) if k == "d" else 10 for k, i in pick]
    pp = predict(p, px).astype(np.float32)
    ref = reference_forward(tensors, px)
    err = np.abs(ref - pp).max()
    print("exported-layout reference forward vs training forward: max |dp| = %.2e" % err)
    assert err < 1e-4, "export axis order is wrong"
    write_probe(OUT_PROBE, px, pp, pl)
    print("probe argmax == label: %d/%d" % ((pp.argmax(1) == np.array(pl)).sum(), len(pl)))

    write_readme(history, acc_d, acc_x, conf, train_time)
    print("wrote %s (%d bytes), %s, %s" % (OUT_MODEL, os.path.getsize(OUT_MODEL), OUT_README, OUT_PROBE))
    print("total wall time %.0f s" % (time.time() - t0))


def write_readme(history, acc_d, acc_x, conf, train_time):
    n_params = 9 * C1 + C1 + 9 * C1 * C2 + C2 + FLAT * HIDDEN + HIDDEN + HIDDEN * 11 + 11
    rows = "\n".join("| %d | %.4f | %.4f | %.4f | %.4f | %.0f |" % h for h in history)
    text = f"""# Bundled models

## `digits-cnn.bin`: handwritten comb-cell characters

A small convolutional network that reads one handwritten character per comb cell: the digits
0-9 and `X` (the check character of Chinese ID numbers). `src/model.rs` embeds it with
`include_bytes!` and runs it in plain Rust (`model::CnnDigits`); the file format and the input
convention are documented there and in `tools/train_digits.py`.

* Architecture: conv 3x3 1->16, ReLU, max-pool 2 -> conv 3x3 16->32, ReLU, max-pool 2 ->
  dense 800->{HIDDEN}, ReLU -> dense {HIDDEN}->11, softmax. {n_params:,} parameters, float32
  ({os.path.getsize(OUT_MODEL):,} bytes). Trained with batch norms after conv2 and fc1, folded into
  those layers on export.
* Input: 28x28 in [0, 1], ink = 1, the ink box scaled to 20 px on its longer side and the centre
  of mass at (14, 14), as MNIST was prepared (LeCun et al. 1998).
* Training: `nice -n 10 python3 tools/train_digits.py` (numpy only, CPU, one BLAS thread), seed
  {SEED}, {EPOCHS} epochs, Adam (lr {LR:g}, cosine decay), minibatch {BATCH}, on-the-fly augmentation
  (stroke width, rotation, shear, scale, offset, elastic distortion, contrast, blur,
  blockiness, comb-box line remnants, noise).
* Data: MNIST training images 0-44,999 for training, 45,000-49,999 for validation; images
  50,000-54,999 (threshold calibration) and 55,000-59,999 (synthetic test pages) are never read
  by the trainer. Class `X` is synthesised (two crossing strokes, 4,500 for training, 500 for
  validation).
* Measured: validation accuracy **{acc_d * 100:.2f} %** on the 5,000 MNIST validation digits,
  **{acc_x * 100:.2f} %** on the 500 synthetic validation X (synthetic X are easy; real
  handwritten X have not been measured); wall time {train_time / 60:.1f} min for the whole command
  (loading, X synthesis, training) on a 2-core machine that was also running a cargo build.

| epoch | train loss | train acc (augmented) | val digits | val X | seconds |
|---|---|---|---|---|---|
{rows}

Confusion matrix on validation (rows: truth, columns: prediction):

```
{format_confusion(conf)}
```

Licence: the weights are derived from the MNIST database by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges, which is distributed under the Creative Commons Attribution-Share
Alike 3.0 licence (CC BY-SA 3.0); attribute MNIST and its authors when redistributing them.
"""
    with open(OUT_README, "w") as f:
        f.write(text)


ENSEMBLE_HEADING = "## Ensemble members"


def write_ensemble_section():
    """Appends (or replaces) the README section listing the ensemble members 1.. from the
    JSON summaries their training runs wrote next to their weights."""
    with open(OUT_README) as f:
        head, _, rest = f.read().partition("\n" + ENSEMBLE_HEADING)
    text = head.rstrip("\n")
    # Sections after this one (the face detector's) are kept as they are.
    after = rest.find("\n## ")
    tail = rest[after:] if after >= 0 else ""
    rows = []
    for k in range(1, len(MEMBERS)):
        try:
            with open(member_path(k)[:-4] + ".json") as f:
                j = json.load(f)
        except FileNotFoundError:
            continue
        rows.append("| `%s` | %d | %s | %d | %.2f %% | %.2f %% | %.0f |"
                    % (MEMBERS[k][0], j["seed"], "/".join(map(str, j["widths"])), j["epochs"], 100 * j["val_digits"],
                       100 * j["val_x"], j["train_seconds"] / 60))
    text += f"""

{ENSEMBLE_HEADING}

`src/model/ensemble.rs` reads cells with the network above and, when it is less than 99.99 %
sure, also with the first of these networks, and with the second too when the two pooled
are still less than 99 % sure, pooling the networks it consulted log-linearly (a deep
ensemble: Lakshminarayanan et al. 2017). They are trained by the same command with the same data and
recipe, but are twice as wide (conv1/conv2/dense widths below), trained for 24 epochs, and
differ from each other in their seed. `python3 tools/train_digits.py` trains every network
in turn; `--member K` trains one (two can run side by side, one per core).

| file | seed | widths | epochs | val digits | val X | minutes |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n" + tail
    with open(OUT_README, "w") as f:
        f.write(text)


if __name__ == "__main__":
    # No argument: train every member in turn. `--member K`: train one (to spread the work).
    if len(sys.argv) == 3 and sys.argv[1] == "--member":
        main(int(sys.argv[2]))
    elif len(sys.argv) == 2 and sys.argv[1] == "--readme":
        pass
    else:
        for k in range(len(MEMBERS)):
            main(k)
    write_ensemble_section()
