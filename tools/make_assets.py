#!/usr/bin/env python3
"""Rebuild the small data assets committed under assets/ from ../shared/data.

    pip install pillow && python3 tools/make_assets.py

* assets/digits/mnist-synth.bin.gz: MNIST training images 55,000–59,999 with their labels
  (1 label byte + 784 pixel bytes per digit). The scan simulator writes these digits into comb
  cells of test pages. The digit recogniser (tools/train_digits.py) trains on images 0–44,999
  and validates on 45,000–49,999, so synthetic pages carry handwriting it has never seen.
* assets/digits/mnist-calib.bin.gz: images 50,000–54,999, for calibration pages (the accept
  thresholds are tuned on those, never on the test pages).
* assets/faces/<name>_<bg>.jpg: the public-domain portraits of ../shared/data/faces as JPEG
  (quality 90), pasted by the simulator onto photo boxes; masks as PNG for photo tests.
"""
import gzip, os, struct
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
SHARED = os.path.join(ROOT, "..", "shared", "data")

def digits():
    with gzip.open(os.path.join(SHARED, "mnist", "train-images.idx3-ubyte.gz")) as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        images = f.read()
    with gzip.open(os.path.join(SHARED, "mnist", "train-labels.idx1-ubyte.gz")) as f:
        f.read(8)
        labels = f.read()
    for name, lo, hi in (("mnist-synth.bin.gz", 55000, 60000), ("mnist-calib.bin.gz", 50000, 55000)):
        out = bytearray()
        for i in range(lo, hi):
            out.append(labels[i])
            out += images[i * 784:(i + 1) * 784]
        with gzip.GzipFile(os.path.join(ROOT, "assets", "digits", name), "wb", mtime=0) as g:
            g.write(bytes(out))

def faces():
    src = os.path.join(SHARED, "faces")
    for name in ("obama", "obama2", "obama3", "astronaut"):
        for bg in ("white", "blue", "grey"):
            Image.open(os.path.join(src, f"{name}_{bg}.png")).convert("RGB").save(
                os.path.join(ROOT, "assets", "faces", f"{name}_{bg}.jpg"), quality=90)
        Image.open(os.path.join(src, f"{name}_mask.png")).save(os.path.join(ROOT, "assets", "faces", f"{name}_mask.png"), optimize=True)

digits()
faces()
