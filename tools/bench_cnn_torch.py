#!/usr/bin/python3
"""One training epoch of configs/fashion-cnn.ini's net in PyTorch on the CPU, for tools/bench_cnn.

conv 16 5x5 pad 2 -> relu -> maxpool 2 -> noise, conv 32 5x5 pad 2 -> relu -> maxpool 2 -> noise,
dense 128 -> relu -> noise, dense 10; noise N(0, beta^2) after every hidden block, Adam, softmax
cross-entropy, shuffled minibatches: the same computation as infoflow's training epoch.
Prints one line per dtype: "torch float64 WALL CPU" (seconds of the epoch, data loading
excluded; CPU = process time, the fair measure with one thread on a shared machine).
Usage: bench_cnn_torch.py --rows N --threads T --batch B [--dtypes float64,float32]
"""
import argparse
import gzip
import time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist/"


def read_idx(path, rows):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return data[:rows]


class Noise(torch.nn.Module):
    def __init__(self, beta):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x + self.beta * torch.randn_like(x)


def make_net(beta):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2), Noise(beta),
        torch.nn.Conv2d(16, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2), Noise(beta),
        torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 128), torch.nn.ReLU(), Noise(beta),
        torch.nn.Linear(128, 10))


def epoch(net, opt, x, y, batch):
    perm = torch.randperm(x.shape[0])
    loss_fn = torch.nn.CrossEntropyLoss()
    for i in range(0, x.shape[0], batch):
        idx = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--dtypes", default="float64,float32")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    images = read_idx(DATA + "train-images-idx3-ubyte.gz", a.rows)
    labels = read_idx(DATA + "train-labels-idx1-ubyte.gz", a.rows)
    for name in a.dtypes.split(","):
        dtype = getattr(torch, name)
        x = torch.tensor(images, dtype=dtype).reshape(-1, 1, 28, 28) / 255.0
        y = torch.tensor(labels, dtype=torch.int64)
        net = make_net(a.beta).to(dtype)
        opt = torch.optim.Adam(net.parameters(), lr=a.lr)
        epoch(net, opt, x[:5 * a.batch], y[:5 * a.batch], a.batch)  # warm-up: allocator, kernels
        t0, c0 = time.perf_counter(), time.process_time()
        epoch(net, opt, x, y, a.batch)
        print("torch %s %.6f %.6f" % (name, time.perf_counter() - t0, time.process_time() - c0),
              flush=True)


if __name__ == "__main__":
    main()
