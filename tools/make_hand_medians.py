#!/usr/bin/env python3
"""Rebuild assets/hand/medians.json.gz, the stroke medians of the simulator's stroke-level
handwriting (crates/synth/src/hand/strokes.rs), from the npm package hanzi-writer-data.

    cd /tmp && npm pack hanzi-writer-data@2.0.1
    python3 tools/make_hand_medians.py /tmp/hanzi-writer-data-2.0.1.tgz

hanzi-writer-data ships one JSON file per character, derived from Make Me a Hanzi
(https://github.com/skishore/makemeahanzi), whose graphics come from Arphic's AR PL fonts and
are under the Arphic Public License (copied to assets/hand/). Each file holds `strokes` (SVG
outlines) and `medians`: per stroke, in writing order, the points of the stroke's centre line
in Make Me a Hanzi's 1024-unit box (y up, baseline at y = 0, top at y = 900). Only the medians
of the characters the simulator writes by hand (the name parts SURNAMES and GIVEN of
crates/synth/src/names.rs) are kept, unchanged, as one JSON object {char: medians} with sorted
keys, gzipped without a timestamp so that the output is byte-for-byte reproducible.
"""
import gzip, hashlib, json, os, re, sys, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OUT = os.path.join(ROOT, "assets", "hand", "medians.json.gz")
# The tarball the committed asset was made from (`npm pack hanzi-writer-data@2.0.1`).
VERSION = "2.0.1"
SHA256 = "72baf3d82b114e60d6e40ea05f24d2262a05cd39d544e2f322ba2fceb7beff15"

def name_chars():
    """Every character of the SURNAMES and GIVEN lists (欧阳 counts as 欧 and 阳)."""
    text = open(os.path.join(ROOT, "crates", "synth", "src", "names.rs"), encoding="utf-8").read()
    chars = set()
    for list_name in ("SURNAMES", "GIVEN"):
        body = re.search(list_name + r": &\[&str\] = &\[(.*?)\];", text, re.S).group(1)
        chars |= {c for c in body if ord(c) > 0x2E80}
    return chars

def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tgz = sys.argv[1]
    sha = hashlib.sha256(open(tgz, "rb").read()).hexdigest()
    if sha != SHA256:
        print(f"warning: {tgz} has sha256 {sha}, not that of hanzi-writer-data {VERSION}; "
              "update VERSION, SHA256 and assets/hand/README.md", file=sys.stderr)
    medians = {}
    with tarfile.open(tgz) as tar:
        for c in sorted(name_chars()):
            member = tar.extractfile(f"package/{c}.json")
            if member is None:
                sys.exit(f"hanzi-writer-data has no {c}")
            medians[c] = json.load(member)["medians"]
    raw = json.dumps(medians, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        # filename "" and mtime 0: no build-specific bytes in the gzip header.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as gz:
            gz.write(raw)
    print(f"{len(medians)} characters, {len(raw)} bytes of JSON, {os.path.getsize(OUT)} gzipped; tarball sha256 {sha}")

main()
