#!/usr/bin/python3
"""Rebuilds the net of an `infoflow export` directory in PyTorch from its net.txt and .npy files,
runs its inputs through it (float64, noiseless) and prints, for every hidden block L, the largest
difference from infoflow's S-L.npy. Usage: check_export_torch.py DIR"""
import sys

import numpy as np
import torch

F = torch.nn.functional
ACT = {"tanh": torch.tanh, "relu": F.relu, "sigmoid": torch.sigmoid, "linear": lambda x: x}


def main(d):
    lines = open(d + "/net.txt").read().splitlines()
    head = lines[0].split(", ")
    act_name = head[1].split()[1]
    slope = float(head[1].split("slope ")[1].rstrip(")")) if "slope" in head[1] else 0.01
    act = ACT.get(act_name, lambda x: F.leaky_relu(x, slope))
    blocks = [b.split() for b in lines[1:]]
    x = torch.from_numpy(np.load(d + "/inputs.npy"))
    worst = 0.0
    for j, b in enumerate(blocks, 1):
        w = torch.from_numpy(np.load("%s/weight-%d.npy" % (d, j)))
        bias = torch.from_numpy(np.load("%s/bias-%d.npy" % (d, j)))
        if b[0] == "conv":
            opt = dict(zip(b[3::2], map(int, b[4::2])))
            x = F.conv2d(x, w, bias, stride=opt.get("stride", 1), padding=opt.get("pad", 0))
        else:
            x = F.linear(torch.flatten(x, 1), w, bias)
        if j == len(blocks):
            break
        x = act(x)
        if b[0] == "conv" and "maxpool" in b:
            x = F.max_pool2d(x, int(b[b.index("maxpool") + 1]))
        if b[0] == "conv" and "avgpool" in b:
            x = F.avg_pool2d(x, int(b[b.index("avgpool") + 1]))
        ref = np.load("%s/S-%d.npy" % (d, j))
        diff = float(np.abs(x.numpy() - ref).max())
        worst = max(worst, diff)
        print("S-%d %s: max |torch - infoflow| = %.3g (max |S| %.3g)" %
              (j, ref.shape, diff, float(np.abs(ref).max())))
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
