#!/usr/bin/env python3
"""Writes the small seed corpora of the fuzz harnesses into tests/fuzz/corpus/<harness>/.
Run from the repository root: python3 tests/fuzz/make_corpus.py BUILD_DIR (BUILD_DIR holds an
infoflow binary, used to make a real checkpoint). Only the standard library is needed."""
import gzip, os, shutil, struct, subprocess, sys, tempfile, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(harness, name, data):
    d = os.path.join(root, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(shape, descr, values, fortran=False, version=1):
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", ", ".join(str(s) for s in shape) +
        ("," if len(shape) == 1 else ""))
    fmt = {"<f8": "<d", "<f4": "<f"}[descr]
    body = b"".join(struct.pack(fmt, v) for v in values)
    size_len = 2 if version == 1 else 4
    pad = (64 - (6 + 2 + size_len + len(hdr) + 1) % 64) % 64
    hdr = hdr + " " * pad + "\n"
    head = b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H" if version == 1 else "<I",
                                                             len(hdr))
    return head + hdr.encode("latin1") + body


def idx_pair(n, rows, cols, gz_images=False, gz_labels=False, dims=3):
    images = struct.pack(">I", 0x0803 if dims == 3 else 0x0802) + struct.pack(">I", n)
    images += struct.pack(">I", rows) + (struct.pack(">I", cols) if dims == 3 else b"")
    d = rows * cols if dims == 3 else rows
    images += bytes((i * 37) % 256 for i in range(n * d))
    labels = struct.pack(">II", 0x0801, n) + bytes(i % 3 for i in range(n))
    if gz_images:
        images = gzip.compress(images, mtime=0)
    if gz_labels:
        labels = gzip.compress(labels, mtime=0)
    return images, labels


def idx_input(max_rows, images, labels):
    return bytes([max_rows]) + struct.pack("<H", len(images)) + images + labels


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    shutil.rmtree(root, ignore_errors=True)
    # config
    for f in ("quick.ini", "szt-tanh.ini", "szt-relu.ini"):
        put("config", f, open(os.path.join("configs", f)).read())
    put("config", "small.ini", "[data]\nfile = data.csv\ntest_fraction = 0.25\n"
        "[net]\nlayers = 5,6,4,3,2\nactivation = leaky_relu\nbeta_layers = 0.1,0.05,0\n"
        "[train]\noptimizer = sgd\nlr = 0.01\nmomentum = 0.9\nepochs = 6\n"
        "checkpoint_keep = every:2\n[estimate]\nepochs = 0,2,6\nreplicas = 4\nbins = szt30\n"
        "[output]\ndir = out\nrepeats = 2\n")
    put("config", "idx.ini", "[data]\nfile = train-images-idx3-ubyte.gz\nlabels = "
        "train-labels-idx1-ubyte.gz\nmax_rows = 100\n[net]\nlayers = 784,10\n"
        "[train]\nepochs = 1\n[estimate]\nepochs = none\n")
    # csv (labelled data sets; the same bytes are also read as a split file)
    put("csv", "plain.csv", "# x1,x2,y\n0.5,1,0\n-2e-3,3.25,1\n\n1,1,2\n")
    put("csv", "header.csv", "a,b,c,label\n1,2,3,0\n4,5,6,1\r\n")
    put("csv", "split.txt", "# test rows\n3\n7\n11\n63\n")
    put("csv", "szt-head.csv", "".join(open("datasets/szt12.csv").readlines()[:12]))
    # npy (and CSV matrices)
    put("npy", "f8.npy", npy((3, 2), "<f8", [1, 2, 3, 4, 5, 6]))
    put("npy", "f4-fortran.npy", npy((2, 3), "<f4", [1, 2, 3, 4, 5, 6], fortran=True))
    put("npy", "v2-1d.npy", npy((4,), "<f8", [0.5, -1, 2, 3], version=2))
    put("npy", "matrix.csv", "# t1,t2\n0.1,0.2\n0.3,0.4\n")
    # idx: max_rows byte, images length (LE u16), images, labels
    put("idx", "plain", idx_input(0, *idx_pair(4, 3, 2)))
    put("idx", "gzip", idx_input(2, *idx_pair(5, 2, 2, True, True)))
    put("idx", "2d", idx_input(0, *idx_pair(3, 4, 1, dims=2)))
    # checkpoint: a real one from a 2-epoch run of the 5-6-4-3-2 tanh net the harness loads into
    tmp = tempfile.mkdtemp()
    try:
        with open(os.path.join(tmp, "d.csv"), "w") as f:
            for i in range(40):
                f.write("%g,%g,%g,%g,%g,%d\n" % (i % 3, i % 5, i % 7, i % 2, i % 11, i % 2))
        with open(os.path.join(tmp, "c.ini"), "w") as f:
            f.write("[data]\nfile = d.csv\n[net]\nlayers = 5,6,4,3,2\nbeta = 0.05\n"
                    "[train]\noptimizer = adam\nlr = 0.01\nbatch = 8\nepochs = 1\n"
                    "[estimate]\nepochs = none\n")
        subprocess.run([os.path.join(build, "infoflow"), "run", os.path.join(tmp, "c.ini"),
                        "--out", os.path.join(tmp, "run"), "--quiet", "--no-plot"], check=True)
        ck = open(os.path.join(tmp, "run", "checkpoints", "epoch-000001.ckpt"), "rb").read()
        put("checkpoint", "file", b"\x00" + ck)
        put("checkpoint", "payload", b"\x01" + zlib.decompress(ck[36:]))
        put("runlog", "metrics.csv", open(os.path.join(tmp, "run", "metrics.csv")).read() +
            "2,0.5,0.")
    finally:
        shutil.rmtree(tmp)
    put("runlog", "mi.csv", "epoch,layer,width,I_XT,I_XT_se,I_YT,I_YT_se,h_T,h_T_given_X,"
        "h_T_given_Y,kde_lower_h_T,kde_upper_h_T\n1,1,10,2.5,0.01,0.3,0.01,4,1.5,3.7,2.4,2.6\n"
        "1,2,7,2.1,0.02,0.3,0.01,3,0.9,2.7,,\n3,1,10,,,,,,,,,\n")
    put("runlog", "binned.csv", "epoch,layer,bin,noise,H_bin,I_YT_bin\n1,1,szt30,clean,8.1,0.6\n"
        "1,1,0.07,noisy,7.9,0.5\n4,1,szt30,cle")


main()
