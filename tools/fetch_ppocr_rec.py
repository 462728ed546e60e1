#!/usr/bin/env python3
"""Reproduce the bundled text-line recogniser in assets/models/ppocr/ from its PyPI wheel.

    python3 tools/fetch_ppocr_rec.py            # downloads rapidocr==3.10.0 with pip, checks, writes
    python3 tools/fetch_ppocr_rec.py WHEEL.whl  # uses a wheel already on disk

The model is PaddleOCR's PP-OCRv6 small recognition network (an SVTR-style CTC recogniser,
Apache-2.0, by Baidu / the PaddleOCR authors) as converted to ONNX and shipped by RapidOCR
3.10.0 (Apache-2.0). The ONNX file is committed byte for byte (its sha256 is checked against
the value RapidOCR's own default_models.yaml gives), and its character list, which the wheel
keeps in the ONNX metadata (`character`), is written beside it as keys.txt because the Rust
runtime (rten) does not expose ONNX metadata. Nothing is downloaded at run time.

Needs: pip (to download) and the `onnx` package (to read the metadata): `pip install onnx`.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "rapidocr==3.10.0"
MODEL = "rapidocr/models/PP-OCRv6_rec_small.onnx"
SHA256 = "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "assets", "models", "ppocr")


def main():
    tmp = tempfile.mkdtemp()
    if len(sys.argv) > 1:
        wheel = sys.argv[1]
    else:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, WHEEL])
        wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
    with zipfile.ZipFile(wheel) as z:
        data = z.read(MODEL)
        licence = z.read("rapidocr-3.10.0.dist-info/licenses/LICENSE")
        notice = z.read("rapidocr-3.10.0.dist-info/licenses/MODEL_LICENSES.md")
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        sys.exit(f"sha256 mismatch: {digest} (expected {SHA256})")
    import onnx

    model = onnx.load_from_string(data)
    chars = [p.value for p in model.metadata_props if p.key == "character"][0].split("\n")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "PP-OCRv6_rec_small.onnx"), "wb") as f:
        f.write(data)
    # One class per line, in the network's order after the CTC blank (class 0); the network
    # has one more class at the end, the space.
    with open(os.path.join(OUT, "keys.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(chars) + "\n")
    with open(os.path.join(OUT, "LICENSE"), "wb") as f:
        f.write(licence)
    with open(os.path.join(OUT, "NOTICE.md"), "wb") as f:
        f.write(notice)
    print(f"ok: {len(data)} bytes, sha256 {digest}, {len(chars)} characters")


if __name__ == "__main__":
    main()
