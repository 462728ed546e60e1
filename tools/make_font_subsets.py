#!/usr/bin/env python3
"""Rebuild the committed font subsets in assets/fonts/ from Debian's font packages.

    apt-get install fonts-noto-cjk fonts-lxgw-wenkai fonts-seto && pip install fonttools
    python3 tools/make_font_subsets.py [print] [hand] [seto]    # default: all three

* `print.ttf`: Noto Sans CJK SC Regular, cut to ASCII, CJK punctuation and the 6,763 hanzi of
  GB 2312 (the set every Chinese roster system can store), converted from CFF to TrueType
  outlines (fontTools cu2qu) so the PDF writer embeds one kind of font (CIDFontType2) and the
  subsetter only meets `glyf` tables. Names outside GB 2312 are reported as bad roster rows.
* `hand.ttf`: LXGW WenKai Regular (a brush-script font), cut to the characters the synthetic
  scan generator writes by "hand" (names, relationship words), so it stays small.
* `hand-seto.ttf`: Seto font (setofont.ttf, a felt-pen Japanese handwriting font with many
  simplified hanzi), the simulator's second handwriting font, cut to the characters of the
  name lists SURNAMES and GIVEN. Seto maps some simplified hanzi to empty glyphs (许, 陈, 马,
  ... 20 of the names' 150); those are left out of the subset so that a lookup fails honestly,
  and the simulator writes them with its stroke renderer instead (crates/synth/src/hand/).
"""
import os, re, sys
from fontTools.ttLib import TTCollection, TTFont
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "assets", "fonts")
sys.path.insert(0, os.path.join(HERE, ".."))

def gb2312():
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars

NAMES_RS = os.path.join(HERE, "..", "crates", "synth", "src", "names.rs")

def hand_chars():
    # The synthetic generator's name parts live in crates/synth/src/names.rs; take every CJK char there.
    text = open(NAMES_RS, encoding="utf-8").read()
    return {c for c in text if ord(c) > 0x2E80} | set("0123456789XxABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

def name_chars():
    # Only what `hand::draw_text_with` writes: the characters of SURNAMES and GIVEN.
    text = open(NAMES_RS, encoding="utf-8").read()
    chars = set()
    for list_name in ("SURNAMES", "GIVEN"):
        body = re.search(list_name + r": &\[&str\] = &\[(.*?)\];", text, re.S).group(1)
        chars |= {c for c in body if ord(c) > 0x2E80}
    return chars

def rename(font, family, postscript):
    for rec in font["name"].names:
        if rec.nameID in (1, 3, 4, 6, 16, 17):
            rec.string = postscript if rec.nameID == 6 else family

def do_subset(font, chars):
    opts = subset.Options()
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = True
    s = subset.Subsetter(opts)
    s.populate(unicodes=[ord(c) for c in chars])
    s.subset(font)

def cff_to_glyf(font):
    """CFF → quadratic TrueType outlines (what fontTools' otf2ttf snippet does)."""
    from fontTools.ttLib import newTable
    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    glyf = newTable("glyf"); glyf.glyphOrder = order; glyf.glyphs = glyphs
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    maxp = font["maxp"]; maxp.tableVersion = 0x00010000
    for a in ("maxZones","maxTwilightPoints","maxStorage","maxFunctionDefs","maxInstructionDefs","maxStackElements","maxSizeOfInstructions","maxComponentElements"):
        setattr(maxp, a, 0)
    maxp.maxZones = 1
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    post = font["post"]; post.formatType = 2.0; post.extraNames = []; post.mapping = {}; post.glyphOrder = order
    del font["CFF "]
    if "VORG" in font: del font["VORG"]
    font.sfntVersion = "\x00\x01\x00\x00"

def main(targets):
    os.makedirs(OUT, exist_ok=True)
    ascii_ = {chr(c) for c in range(0x20, 0x7F)}
    punct = set("，。、；：？！“”‘’（）《》【】—…·〇□☑☐×√")
    made = []
    if "print" in targets:
        col = TTCollection("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        f = col.fonts[2]  # Noto Sans CJK SC
        do_subset(f, gb2312() | ascii_ | punct)
        cff_to_glyf(f)
        f.save(os.path.join(OUT, "print.ttf"))
        made.append("print.ttf")
    if "hand" in targets:
        h = TTFont("/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf")
        do_subset(h, hand_chars() | ascii_)
        # The OFL reserves the names "LXGW" and "霞鹜" for unmodified fonts: a subset is a modified
        # version, so it is renamed.
        rename(h, "Formscan Hand", "FormscanHand-Regular")
        h.save(os.path.join(OUT, "hand.ttf"))
        made.append("hand.ttf")
    if "seto" in targets:
        s = TTFont("/usr/share/fonts/truetype/seto/setofont.ttf", recalcTimestamp=False)  # reproducible bytes
        cmap, glyf = s.getBestCmap(), s["glyf"]
        # Seto's cmap maps some simplified hanzi it never drew to empty glyphs: keep only the
        # characters with an outline, so that "no glyph" means no glyph.
        chars = {c for c in name_chars() if ord(c) in cmap and glyf[cmap[ord(c)]].numberOfContours != 0}
        print("seto lacks", "".join(sorted(name_chars() - chars)))
        do_subset(s, chars)
        # Seto reserves no font name, but a subset is not the font its author ships: rename it
        # as the WenKai subset is.
        rename(s, "Formscan Hand Seto", "FormscanHandSeto-Regular")
        s.save(os.path.join(OUT, "hand-seto.ttf"))
        made.append("hand-seto.ttf")
    for n in made:
        print(n, os.path.getsize(os.path.join(OUT, n)))

main(sys.argv[1:] or ["print", "hand", "seto"])
