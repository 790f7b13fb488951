#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the malformed-file corpus (tests/corpus/) and the fuzz seed corpora
(tests/fuzz/corpus/<target>/). Deterministic: rerunning it reproduces the
committed files byte for byte. Python standard library only.

    python3 tests/corpus/gen_corpus.py          # rewrite both trees

Each malformed file is checked by tests/test_malformed.c, which names the
status and message it expects; MANIFEST lists every file with a one-line
description of what is wrong with it.
"""
import gzip
import io
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "fuzz", "corpus")
manifest = []


def put(rel, data, why, root=HERE):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    if root == HERE:
        manifest.append((rel, why))


def gz(data):
    # mtime 0 and no file name: reproducible bytes
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as fh:
        fh.write(data)
    return buf.getvalue()


# ---- IDX --------------------------------------------------------------------

def idx_images(n, h, w, pixels=None, magic=0x803):
    if pixels is None:
        pixels = bytes((i * 7) % 256 for i in range(n * h * w))
    return struct.pack(">IIII", magic, n, h, w) + pixels


def idx_labels(labels, magic=0x801, n=None):
    return struct.pack(">II", magic, len(labels) if n is None else n) + bytes(labels)


IMG = idx_images(3, 2, 3)
LBL = idx_labels([0, 2, 1])


def gen_idx():
    put("idx/good-images.idx", IMG, "valid: 3 images of 2x3")
    put("idx/good-labels.idx", LBL, "valid: 3 labels")
    put("idx/good-images.idx.gz", gz(IMG), "valid, gzip")
    put("idx/good-labels.idx.gz", gz(LBL), "valid, gzip")
    put("idx/empty.idx", b"", "zero bytes")
    put("idx/short-header.idx", IMG[:10], "header cut after 10 bytes")
    put("idx/bad-magic-images.idx", idx_images(3, 2, 3, magic=0x804), "magic 0x804")
    put("idx/labels-as-images.idx", LBL, "a label file where images are expected")
    put("idx/bad-magic-labels.idx", idx_labels([0, 2, 1], magic=0x803), "label magic 0x803")
    put("idx/truncated-images.idx", IMG[:-4], "claims 3 images, holds 2 and a third of one")
    put("idx/trailing-images.idx", IMG + b"\0\0", "2 bytes after the data")
    put("idx/count-mismatch-labels.idx", idx_labels([0, 2, 1, 1]), "4 labels for 3 images")
    put("idx/truncated-labels.idx", idx_labels([0, 2], n=3), "claims 3 labels, holds 2")
    put("idx/zero-height.idx", idx_images(3, 0, 3, pixels=b""), "h = 0")
    put("idx/huge-dims.idx", idx_images(2, 100000, 100000, pixels=b"\0" * 16),
        "h = w = 100000 (over TG_DATASET_MAX_DIM), 16 bytes of data")
    put("idx/huge-count.idx", idx_images(0xFFFFFFFF, 28, 28, pixels=b"\0" * 16),
        "n = 2^32-1 (over TG_DATASET_MAX_IMAGES)")
    put("idx/over-max-bytes.idx", idx_images(9000000, 28, 28, pixels=b"\0" * 16),
        "9e6 x 28 x 28 = 7 GB of pixels (over TG_DATASET_MAX_BYTES)")
    put("idx/lying-count.idx", idx_images(5000000, 28, 28, pixels=b"\0" * 784),
        "claims 5e6 images (within limits), holds one: must fail without allocating 3.9 GB")
    full = gz(IMG)
    put("idx/truncated.idx.gz", full[: len(full) // 2], "gzip stream cut in half")
    bad = bytearray(full)
    bad[-8] ^= 0xFF  # CRC32 of the uncompressed data
    put("idx/bad-crc.idx.gz", bytes(bad), "gzip CRC mismatch")
    bad = bytearray(full)
    bad[12] ^= 0x55  # inside the deflate stream
    put("idx/corrupt-deflate.idx.gz", bytes(bad), "deflate stream with flipped bits")
    put("idx/gz-bad-magic.idx.gz", gz(idx_images(3, 2, 3, magic=0x804)), "gzip of a bad magic")


# ---- PNG --------------------------------------------------------------------

def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png(w, h, color, depth, rows, interlace=0, extra=b"", idat=None):
    """rows: list of raw row bytes (without the filter byte)."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    data = zlib.compress(b"".join(b"\0" + r for r in rows), 9) if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", data) + \
        chunk(b"IEND", b"")


GRAY = [bytes([0, 10, 20]), bytes([30, 40, 250])]   # the expected 2x3 pixels


def adam7_gray8(w, h, px):
    """Interlaced 8-bit gray: the seven passes, each row filtered with 0."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, w, dx))
        for y in range(y0, h, dy):
            if xs:
                raw += b"\0" + bytes(px[y][x] for x in xs)
    return zlib.compress(raw, 9)


def gen_png():
    good = png(3, 2, 0, 8, GRAY)
    put("png/good/0/a.png", good, "valid 2x3 gray")
    put("png/good/2/b.png", good, "valid 2x3 gray")
    # odd but valid encodings of the same pixels: must load to GRAY exactly
    put("png/odd/0/gray16.png", png(3, 2, 0, 16, [bytes(sum(([v, v] for v in r), [])) for r in GRAY]),
        "16-bit gray (stripped to 8)")
    put("png/odd/0/rgb.png", png(3, 2, 2, 8, [bytes(sum(([v] * 3 for v in r), [])) for r in GRAY]),
        "RGB with r = g = b")
    put("png/odd/0/rgba.png", png(3, 2, 6, 8, [bytes(sum(([v] * 3 + [7] for v in r), []))
                                                for r in GRAY]), "RGBA, alpha dropped")
    put("png/odd/0/gray-alpha.png", png(3, 2, 4, 8, [bytes(sum(([v, 99] for v in r), []))
                                                     for r in GRAY]), "gray + alpha")
    pal = bytes(sum(([v] * 3 for v in (0, 10, 20, 30, 40, 250)), []))
    put("png/odd/0/palette.png", png(3, 2, 3, 8, [bytes([0, 1, 2]), bytes([3, 4, 5])],
                                     extra=chunk(b"PLTE", pal)), "palette of grays")
    put("png/odd/0/interlaced.png", png(3, 2, 0, 8, None, interlace=1,
                                        idat=adam7_gray8(3, 2, GRAY)), "Adam7 interlaced")
    put("png/odd/0/text-chunk.png", png(3, 2, 0, 8, GRAY, extra=chunk(b"tEXt", b"k\0v" * 50)),
        "ancillary tEXt chunk")
    # 1-bit gray: expands to 0/255
    put("png/bits/0/gray1.png", png(3, 2, 0, 1, [bytes([0b10100000]), bytes([0b01000000])]),
        "1-bit gray (expands to 0/255)")
    # corrupt
    put("png/not-png/0/a.png", b"this is not a png\n", "text with a .png name")
    put("png/empty-file/0/a.png", b"", "zero bytes")
    put("png/truncated/0/a.png", good[:45], "cut inside IDAT")
    put("png/sig-only/0/a.png", good[:8], "signature only")
    bad = bytearray(good)
    bad[29] ^= 0xFF  # IHDR CRC
    put("png/bad-crc/0/a.png", bytes(bad), "IHDR CRC mismatch")
    put("png/wrong-size/0/a.png", png(4, 4, 0, 8, [bytes(4)] * 4), "4x4 where 2x3 is required")
    put("png/huge-dims/0/a.png", png(100000, 100000, 0, 8, [], idat=zlib.compress(b"")),
        "IHDR claims 100000x100000, no data")
    put("png/zero-width/0/a.png", png(0, 2, 0, 8, [b"", b""]), "IHDR width 0")
    put("png/bad-depth/0/a.png", png(3, 2, 0, 7, GRAY), "bit depth 7")
    put("png/bad-color/0/a.png", png(3, 2, 5, 8, GRAY), "colour type 5")
    put("png/short-idat/0/a.png", png(3, 2, 0, 8, [GRAY[0]]), "IDAT holds one row of two")
    put("png/garbage-idat/0/a.png", png(3, 2, 0, 8, None, idat=b"\x78\x9c" + b"\xff" * 20),
        "IDAT is not a deflate stream")
    put("png/no-idat/0/a.png", b"\x89PNG\r\n\x1a\n" +
        chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 0, 0, 0, 0)) + chunk(b"IEND", b""),
        "no IDAT chunk")
    put("png/bad-filter/0/a.png", png(3, 2, 0, 8, None,
                                      idat=zlib.compress(b"\x09" + GRAY[0] + b"\x00" + GRAY[1])),
        "row filter type 9")
    put("png/one-bad/0/a.png", good, "valid")
    put("png/one-bad/1/b.png", good[:40], "truncated, next to a valid file")
    os.makedirs(os.path.join(HERE, "png/no-classes/notanumber"), exist_ok=True)
    put("png/no-classes/notanumber/a.png", good, "class directory name is not a number")
    put("png/no-images/0/readme.txt", b"no images here\n", "a class directory without .png")


# ---- safetensors ----------------------------------------------------------------

# The test model: params "w" [2,3], "b" [3]; child "c" with buffer "rm" [2].
MODEL = [("w", [2, 3]), ("b", [3]), ("c.rm", [2])]


def st(tensors, metadata=None, raw_header=None, data=None, pad=True):
    """tensors: list of (name, dtype, shape, begin, end) or dicts; returns file bytes."""
    hdr = {}
    blob = b""
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for t in tensors:
        if isinstance(t, tuple):
            name, dtype, shape, b, e = t
            hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}
        else:
            hdr.update(t)
    text = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":"))
    text = text.encode() if isinstance(text, str) else text
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    if data is None:
        end = 0
        for t in tensors:
            if isinstance(t, tuple):
                end = max(end, t[4])
        data = struct.pack("<%df" % (end // 4), *[0.25 * i for i in range(end // 4)]) \
            if end % 4 == 0 else bytes(end)
    return struct.pack("<Q", len(text)) + text + data


def layout(shapes, dtype="F32", size=4):
    out, off = [], 0
    for name, shape in shapes:
        n = 1
        for d in shape:
            n *= d
        out.append((name, dtype, shape, off, off + n * size))
        off += n * size
    return out


GOOD = layout(MODEL)  # w 0-24, b 24-36, c.rm 36-44


def ckpt_meta(step="3", lr="0.001", epoch="5", optim="Adam"):
    return {"tg.optim": optim, "tg.step": step, "tg.lr": lr, "tg.epoch": epoch}


def gen_safetensors():
    put("st/good.safetensors", st(GOOD, metadata={"note": "ok"}), "valid model state")
    ck = GOOD + layout([("optim.w.0", [2, 3]), ("optim.w.1", [2, 3]), ("optim.b.0", [3]),
                        ("optim.b.1", [3])])
    off = GOOD[-1][4]
    ck = GOOD + [(n, d, s, b + off, e + off) for (n, d, s, b, e) in ck[3:]]
    put("st/good-checkpoint.safetensors", st(ck, metadata=ckpt_meta()), "valid Adam checkpoint")
    put("st/empty.safetensors", b"", "zero bytes")
    put("st/short.safetensors", b"\x10\0\0\0\0\0", "6 bytes: no full length field")
    put("st/huge-header-len.safetensors", struct.pack("<Q", 1 << 62) + b"{}",
        "header length 2^62 (over the 100 MB limit)")
    put("st/header-past-eof.safetensors", struct.pack("<Q", 4096) + b"{}      ",
        "header length 4096 in a 16-byte file")
    put("st/bad-json.safetensors", st([], raw_header='{"w":{"dtype":"F32",'), "JSON cut short")
    put("st/not-object.safetensors", st([], raw_header="[1,2,3]"), "header is an array")
    put("st/nul-in-header.safetensors", st([], raw_header=b'{"w\0":1}'), "NUL inside the header")
    put("st/out-of-range.safetensors",
        st([GOOD[0], GOOD[1], ("c.rm", "F32", [2], 36, 4000)], data=st(GOOD)[-44:]),
        "c.rm ends at 4000, data has 44 bytes")
    put("st/overlap.safetensors", st([GOOD[0], ("b", "F32", [3], 20, 32), ("c.rm", "F32", [2], 32, 40)],
                                     data=bytes(44)), "b overlaps w")
    put("st/begin-after-end.safetensors", st([GOOD[0], ("b", "F32", [3], 36, 24), GOOD[2]]),
        "b has begin > end")
    put("st/size-mismatch.safetensors", st([GOOD[0], ("b", "F32", [3], 24, 32),
                                            ("c.rm", "F32", [2], 32, 40)]),
        "b is [3] F32 but spans 8 bytes")
    put("st/negative-offset.safetensors", st([GOOD[0], ("b", "F32", [3], -12, 0), GOOD[2]]),
        "negative data offset")
    put("st/float-offset.safetensors", st([GOOD[0], ("b", "F32", [3], 24.0, 36.5), GOOD[2]]),
        "fractional data offset")
    put("st/huge-offset.safetensors",
        st([GOOD[0], GOOD[1], ("c.rm", "F32", [2], 18446744073709551600, 18446744073709551608)],
           data=bytes(44)), "offsets near 2^64 (overflow bait)")
    put("st/wrong-dtype.safetensors", st(layout(MODEL, "F64", 8)), "every tensor F64")
    put("st/int-dtype.safetensors", st([GOOD[0], ("b", "I32", [3], 24, 36), GOOD[2]]),
        "b is I32")
    put("st/unknown-dtype.safetensors", st([GOOD[0], ("b", "F33", [3], 24, 36), GOOD[2]]),
        "dtype F33")
    dup = '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},' \
          '"b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},' \
          '"c.rm":{"dtype":"F32","shape":[2],"data_offsets":[36,44]},' \
          '"b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]}}'
    put("st/duplicate-name.safetensors", st([], raw_header=dup, data=bytes(44)),
        "tensor b listed twice")
    put("st/missing-tensor.safetensors", st(GOOD[:2]), "no c.rm")
    put("st/extra-tensor.safetensors", st(GOOD + [("extra", "F32", [1], 44, 48)]),
        "an extra tensor")
    put("st/wrong-shape.safetensors", st([("w", "F32", [3, 2], 0, 24), GOOD[1], GOOD[2]]),
        "w is [3,2] instead of [2,3]")
    put("st/rank-9.safetensors", st([("w", "F32", [1] * 7 + [2, 3], 0, 24), GOOD[1], GOOD[2]]),
        "w has rank 9")
    put("st/negative-dim.safetensors", st([("w", "F32", [-2, -3], 0, 24), GOOD[1], GOOD[2]]),
        "negative dims")
    put("st/huge-dims.safetensors",
        st([("w", "F32", [4294967296, 4294967296, 4294967296], 0, 24), GOOD[1], GOOD[2]]),
        "dims whose product overflows 64 bits")
    put("st/truncated-data.safetensors", st(GOOD)[:-5], "last tensor cut short")
    put("st/bad-metadata.safetensors", st(GOOD, metadata={"k": 5}), "metadata value not a string")
    put("st/deep-json.safetensors", st([], raw_header='{"a":' * 5000 + "1" + "}" * 5000),
        "objects nested 5000 deep")
    put("st/checkpoint-bad-step.safetensors", st(ck, metadata=ckpt_meta(step="x")),
        "tg.step is not a number")
    put("st/checkpoint-no-epoch.safetensors",
        st(ck, metadata={"tg.optim": "Adam", "tg.step": "3", "tg.lr": "0.001"}), "no tg.epoch")
    put("st/checkpoint-wrong-optim.safetensors", st(ck, metadata=ckpt_meta(optim="SGD")),
        "optimiser SGD where Adam is expected")
    put("st/checkpoint-missing-state.safetensors", st(ck[:-1], metadata=ckpt_meta()),
        "optim.b.1 missing")


# ---- config ---------------------------------------------------------------------

CONFIGS = [
    ("no-equals.txt", b"lr = 0.1\njust words\n", "line 2 has no '='"),
    ("missing-key.txt", b"= 3\n", "empty key"),
    ("bad-key.txt", b"learning rate = 3\n", "space inside the key"),
    ("duplicate-key.txt", b"seed = 1\nlr = 2\nseed = 3\n", "seed twice"),
    ("unterminated-quote.txt", b'name = "abc\n', "quote not closed"),
    ("stray-quote.txt", b'name = ab"c\n', "quote inside an unquoted value"),
    ("nul-byte.txt", b"lr = 0.1\nseed\0 = 2\n", "NUL byte"),
    ("long-line.txt", b"k = " + b"x" * 5000 + b"\n", "a 5004-byte line (limit 4096)"),
    ("crlf-ok.txt", b"lr = 0.5\r\nseed = 7\r\n# c\r\n", "valid: CRLF line ends"),
    ("bom-ok.txt", b"\xef\xbb\xbflr = 0.5\n", "valid: UTF-8 BOM"),
    ("bad-values.txt", b"batch_size = abc\nlr = 1e999\nflag = maybe\nopt = adm\nbig = 99999999999999999999\n",
     "valid syntax, values the typed getters must refuse"),
]


def gen_config():
    for name, data, why in CONFIGS:
        put("config/" + name, data, why)


# ---- CSV tables (tests/test_csv.c reads these with target column "y") ------------

def gen_csv():
    put("csv/good.csv", b"a,b,y\n1,2,cat\n3.5,-4e-2,dog\n\"5\",6,cat\r\n7,8,dog\n\n",
        "valid: 4 rows, 2 features, classes cat/dog, CRLF and a trailing blank line")
    put("csv/latin1-label.csv", b"a,y\n1,caf\xe9\n2,bar\n",
        "valid: a Latin-1 (not UTF-8) class name, kept as bytes")
    put("csv/empty.csv", b"", "zero bytes")
    put("csv/header-only.csv", b"a,b,y\n", "a header and no data rows")
    put("csv/bad-number.csv", b"a,b,y\n1,2,x\n3,abc,x\n", "feature cell 'abc' on line 3")
    put("csv/empty-cell.csv", b"a,b,y\n,2,x\n", "empty feature cell")
    put("csv/inf.csv", b"a,b,y\ninf,2,x\n", "feature cell 'inf'")
    put("csv/nan.csv", b"a,b,y\n1,2,nan\n", "regression target 'nan'")
    put("csv/huge-number.csv", b"a,b,y\n1,1e39,x\n", "1e39 overflows float")
    put("csv/decimal-comma.csv", b"a;b;y\n\"1,5\";2;x\n".replace(b";", b","),
        "quoted decimal comma '1,5'")
    put("csv/ragged.csv", b"a,b,y\n1,2,x\n3,x\n", "a row with 2 of 3 fields")
    put("csv/unterminated-quote.csv", b"a,b,y\n1,2,\"x\n3,4,x\n", "quote never closed")
    put("csv/junk-after-quote.csv", b"a,b,y\n1,2,\"a\"x\n", "text after a closing quote")
    put("csv/stray-quote.csv", b"a,b,y\n1,2,a\"b\n", "quote inside an unquoted field")
    put("csv/bare-cr.csv", b"a,b,y\r1,2,x\r", "old Mac line ends (CR only)")
    put("csv/nul.csv", b"a,b,y\n1,\x002,x\n", "NUL byte in a cell")
    put("csv/blank-line-inside.csv", b"a,b,y\n1,2,x\n\n3,4,x\n", "empty line between rows")
    put("csv/duplicate-header.csv", b"a,a,y\n1,2,x\n", "column name 'a' twice")
    put("csv/empty-header-name.csv", b"a,,y\n1,2,x\n", "empty column name")
    put("csv/no-target.csv", b"a,b,label\n1,2,x\n", "no column 'y'")
    put("csv/only-target.csv", b"y\nx\n", "the target is the only column")
    put("csv/too-many-columns.csv",
        (",".join("c%d" % i for i in range(4096)) + ",y\n").encode(),
        "4097 columns (over TG_CSV_MAX_COLUMNS)")
    put("csv/long-field.csv", b"a,b,y\n1,2," + b"z" * 5000 + b"\n",
        "a 5000-byte field (over TG_CSV_MAX_FIELD_BYTES)")
    put("csv/binary.csv", bytes((i * 97 + 13) % 255 + 1 for i in range(300)),
        "300 bytes of binary noise (no NUL)")


def csv_seed(mode, text):
    return bytes([mode]) + text


# ---- fuzz seeds -------------------------------------------------------------------

def seed(target, name, data):
    put(os.path.join(target, name), data, None, root=FUZZ)


def ops_program(threads, rng_seed, *ops):
    return bytes([threads, rng_seed]) + bytes(b for op in ops for b in op)


def gen_seeds():
    # fuzz_ops opcodes (see tests/fuzz/fuzz_ops.c)
    P, RAND, CONV, RELU, MAXP, FLAT, SUMALL, BACK = 6, 3, 39, 30, 40, 21, 27, 45
    cnn = [(P, 4, 3, 1, 3, 3, 0), (RAND, 4, 2, 1, 6, 6, 128, 160), (CONV, 0, 1, 1, 1, 1),
           (RELU,), (MAXP, 2, 2, 0), (FLAT, 1, 0xFF), (SUMALL,), (BACK,)]
    seed("fuzz_ops", "cnn-1thread", ops_program(0, 1, *cnn))
    seed("fuzz_ops", "cnn-4threads", ops_program(3, 1, *cnn))
    mlp = [(P, 2, 4, 5, 0), (RAND, 2, 3, 5, 128, 160), (P, 1, 4, 1), (19, 1), (33,),
           (0, 1, 3, 40, 41, 42), (36, 3, 1, 2, 3, 0), (BACK,)]
    seed("fuzz_ops", "mlp-ce", ops_program(1, 2, *mlp))
    shapes = [(RAND, 3, 2, 3, 4, 100, 200), (20, 2, 6, 4, 1, 0), (22, 0, 1), (23, 1, 0, 0),
              (34, 1), (35, 0xFF), (24, 0, 1), (26, 1, 0), (SUMALL,)]
    seed("fuzz_ops", "shapes", ops_program(0, 3, *shapes))
    anomaly = [(47, 2), (P, 1, 4, 0), (15,), (SUMALL,), (BACK,)]
    seed("fuzz_ops", "log-negative-anomaly", ops_program(0, 4, (0, 1, 3, 40, 2, 3), *anomaly))
    errors = [(7,), (18,), (RAND, 2, 2, 3, 130, 140), (RAND, 2, 4, 5, 130, 140), (18,),
              (1, 1, 0xFF), (5, 1, 2, 0), (41, 0, 0, 0), (43, 31, 130, 130)]
    seed("fuzz_ops", "errors", ops_program(1, 5, *errors))
    pools = [(RAND, 4, 1, 2, 5, 7, 120, 170), (41, 3, 2, 1), (MAXP, 2, 1, 1), (42, 60, 1),
             (RAND, 4, 1, 2, 3, 3, 120, 140), (43, 16 | 1 | 2, 140, 1), (BACK,)]
    seed("fuzz_ops", "pools-bn", ops_program(2, 6, *pools))
    # The 0.2 ops (opcodes 48-61), recorded as bytes when they were added.
    seed("fuzz_ops", "ops-0.2", bytes.fromhex("010706040203050400340203383980a03a31030002060402030202013b060402030202023002010133040001000200ff00010190370002063201000802352d060204030336001006063c3d01002d"))

    def split(a, b):
        return struct.pack("<H", len(a)) + a + b
    seed("fuzz_idx", "raw", split(IMG, LBL))
    seed("fuzz_idx", "gz", split(gz(IMG), gz(LBL)))
    seed("fuzz_idx", "mixed", split(IMG, gz(LBL)))
    seed("fuzz_idx", "mnist-like", split(idx_images(4, 28, 28), idx_labels([5, 0, 4, 1])))
    seed("fuzz_idx", "truncated-gz", split(gz(IMG)[:20], LBL))

    for p in ["png/good/0/a.png", "png/odd/0/gray16.png", "png/odd/0/rgb.png",
              "png/odd/0/rgba.png", "png/odd/0/palette.png", "png/odd/0/interlaced.png",
              "png/odd/0/gray-alpha.png", "png/bits/0/gray1.png", "png/truncated/0/a.png"]:
        with open(os.path.join(HERE, p), "rb") as fh:
            seed("fuzz_png", p.replace("/", "_"), fh.read())

    for name, data, _ in CONFIGS:
        if len(data) < 1000:
            seed("fuzz_config", name, data)
    seed("fuzz_config", "full", b"# run\nlr = 0.01\nbatch_size = 32\noptimizer_type = adam\n"
         b"name = \"a # b\"\nflag = yes\n")

    with open(os.path.join(HERE, "st/good.safetensors"), "rb") as fh:
        good = fh.read()
    with open(os.path.join(HERE, "st/good-checkpoint.safetensors"), "rb") as fh:
        ck = fh.read()
    seed("fuzz_safetensors", "module", b"\0" + good)
    seed("fuzz_safetensors", "checkpoint-adam", b"\1" + ck)
    seed("fuzz_safetensors", "checkpoint-model-only", b"\2" + ck)
    seed("fuzz_safetensors", "metadata", b"\3" + ck)
    for p in ["st/overlap.safetensors", "st/duplicate-name.safetensors",
              "st/wrong-dtype.safetensors", "st/out-of-range.safetensors"]:
        with open(os.path.join(HERE, p), "rb") as fh:
            seed("fuzz_safetensors", os.path.basename(p), b"\0" + fh.read())

    # fuzz_csv: first byte = mode bits (tests/fuzz/fuzz_csv.c), then the text
    seed("fuzz_csv", "iris-like", csv_seed(0x20, b"a,b,y\n5.1,3.5,setosa\n4.9,3.0,versicolor\n"))
    seed("fuzz_csv", "int-labels", csv_seed(0x00, b"a,y\n1,2\n3,0\n5,10\n"))
    seed("fuzz_csv", "regression-2", csv_seed(0x31, b"z,a,skip,y\n1,2,,3\n-4e-2,.5,q,6.\n"))
    seed("fuzz_csv", "quoted-crlf", csv_seed(0x20, b"\xef\xbb\xbf\"a,b\",y\r\n\"1\",\"x\"\"y\r\nz\"\r\n\r\n"))
    seed("fuzz_csv", "semicolon", csv_seed(0x02, b"a;y\n1;2\n"))
    seed("fuzz_csv", "tab", csv_seed(0x04, b"a\ty\n 1 \tx\n"))
    seed("fuzz_csv", "pipe-small-limits", csv_seed(0x46, b"a|b|y\n1|2|x\n3|4|y\n5|6|z\n"))
    for name in ["ragged.csv", "unterminated-quote.csv", "junk-after-quote.csv",
                 "blank-line-inside.csv", "bad-number.csv"]:
        with open(os.path.join(HERE, "csv", name), "rb") as fh:
            seed("fuzz_csv", name, csv_seed(0x20, fh.read()))


# ---- CIFAR --------------------------------------------------------------------

def cifar_record(labels, k):
    """Label byte(s), then R, G, B planes of 32 x 32 (R = k, G = 100 + k, B = index)."""
    return bytes(labels) + bytes([k % 256] * 1024) + bytes([(100 + k) % 256] * 1024) + \
        bytes(i % 256 for i in range(1024))


def gen_cifar():
    good = cifar_record([3], 0) + cifar_record([9], 1)
    good100 = cifar_record([19, 99], 0) + cifar_record([0, 5], 1)
    put("cifar/good.bin", good, "valid: 2 CIFAR-10 records")
    put("cifar/good100.bin", good100, "valid: 2 CIFAR-100 records (coarse 19, 0; fine 99, 5)")
    put("cifar/empty.bin", b"", "zero bytes: no records")
    put("cifar/label-only.bin", b"\x01", "one label byte and no pixels")
    put("cifar/partial.bin", good[:3073 + 100], "one record, then 100 bytes of a second")
    put("cifar/bad-label.bin", cifar_record([200], 0), "CIFAR-10 label 200")
    put("cifar/bad-fine-label.bin", cifar_record([3, 100], 0), "CIFAR-100 fine label 100")
    put("cifar/bad-coarse-label.bin", cifar_record([20, 7], 0), "CIFAR-100 coarse label 20")
    seed("fuzz_cifar", "good10", b"\x00" + struct.pack("<H", 3073) + good)
    seed("fuzz_cifar", "good100-fine", b"\x01" + struct.pack("<H", 0) + good100)
    seed("fuzz_cifar", "good100-coarse-two-files", b"\x03" + struct.pack("<H", 3074) + good100)
    seed("fuzz_cifar", "partial", b"\x00" + struct.pack("<H", 0) + good[:3073 + 100])


def main():
    for d in ["idx", "png", "st", "config", "csv", "cifar"]:
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    for t in ["fuzz_ops", "fuzz_idx", "fuzz_png", "fuzz_config", "fuzz_safetensors",
              "fuzz_csv", "fuzz_cifar"]:
        shutil.rmtree(os.path.join(FUZZ, t), ignore_errors=True)
        os.makedirs(os.path.join(FUZZ, t))
    gen_idx()
    gen_png()
    gen_safetensors()
    gen_config()
    gen_csv()
    gen_cifar()
    gen_seeds()
    with open(os.path.join(HERE, "MANIFEST"), "w") as fh:
        fh.write("# file: what is wrong with it (generated by gen_corpus.py)\n")
        for rel, why in manifest:
            fh.write("%s: %s\n" % (rel, why))


if __name__ == "__main__":
    main()
