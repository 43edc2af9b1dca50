#!/usr/bin/python3
"""PyTorch peer of tools/bench_train.c: the same training loop, one thread, float64.

A 12-10-7-5-4-3-2 tanh net with Gaussian noise beta = 0.005 after every hidden activation,
3277 rows of the 12-bit parity-like rule, batch 256, Adam (lr 1e-3), a reshuffle per epoch,
softmax cross-entropy. The data are the same rows bench_train makes (the same rule on all 4096
12-bit vectors); the order and initialisation come from torch's generator (the work per epoch,
not the numbers, is what is compared). Prints CPU time of this thread (time.thread_time), like
bench_train, and the wall time. Usage: /usr/bin/python3 tools/bench_train_torch.py [EPOCHS=200]
Needs Debian's python3-torch (1.13).
"""
import sys
import time

import torch

N_ALL, N_TRAIN, D, BETA = 4096, 3277, 12, 0.005


def make_data(gen):
    idx = torch.randperm(N_ALL, generator=gen)[:N_TRAIN]
    bits = (idx.unsqueeze(1) >> torch.arange(D)) & 1
    ones = bits[:, :6].sum(1)
    y = (ones & 1) ^ (bits[:, 6] & bits[:, 7])
    return bits.to(torch.float64), y


class Noisy(torch.nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = torch.tanh(layer(x))
            x = x + BETA * torch.randn_like(x)  # the noise is an input: no gradient through it
        return self.layers[-1](x)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    torch.set_num_threads(1)
    torch.manual_seed(1)
    gen = torch.Generator().manual_seed(12345)
    x, y = make_data(gen)
    net = Noisy([D, 10, 7, 5, 4, 3, 2])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = torch.nn.CrossEntropyLoss()
    t0, w0 = time.thread_time(), time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(N_TRAIN)
        for i0 in range(0, N_TRAIN, 256):
            rows = perm[i0:i0 + 256]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x[rows]), y[rows])
            loss.backward()
            opt.step()
    secs, wall = time.thread_time() - t0, time.perf_counter() - w0
    print(f"torch             {torch.__version__}, float64, {torch.get_num_threads()} thread")
    print(f"epochs            {epochs}")
    print(f"seconds           {secs:.3f} (CPU time; wall {wall:.3f})")
    print(f"projected 10k (s) {1e4 * secs / epochs:.2f}")
    print(f"train loss        {loss.item():.4f} (last batch, noisy)")


if __name__ == "__main__":
    main()
