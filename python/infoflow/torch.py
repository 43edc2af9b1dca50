"""Information flow of any PyTorch model made noisy (Goldfeld et al., ICML 2019).

`measure` adds Gaussian noise of std beta after the named modules through forward hooks, so
any model becomes a noisy network T_l = S_l + Z_l, runs R noisy passes of every input, collects
each named module's output before its noise (S_l) and estimates I(X;T_l) and I(Y;T_l) with the
C library's SP estimator exactly as `infoflow run` / `infoflow estimate` do
(src/estimators/mi.c, ESTIMATION.md section 2): the m R samples of S_l, grouped by input for
I(X;T_l) and by label for I(Y;T_l), with common random numbers. Needs PyTorch (Debian's
python3-torch); the rest of the infoflow package does not.
"""

import numpy as np
import torch
from torch import nn

from . import estimators
from ._progress import Progress
from .runs import load_checkpoint

__all__ = ["measure", "mlp_from_checkpoint"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def mlp_from_checkpoint(checkpoint):
    """A float64 nn.Sequential equal to the dense network of an infoflow checkpoint: Linear,
    activation, ..., Linear (the output layer has no activation), with the checkpoint's weights.

    Args:
        checkpoint: path of a .ckpt file, or the dict returned by infoflow.load_checkpoint.

    Returns:
        (model, hidden, beta): the model, the names of its hidden activation modules (where the
        infoflow net adds its noise, e.g. ["1", "3"]) and their noise stds.
    """
    ck = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
    for l, block in enumerate(ck.get("blocks", []), start=1):
        if block["kind"] != "dense":
            raise ValueError(f"block {l} is a {block['kind']} block: mlp_from_checkpoint builds "
                             "dense nets only (its weights are in ck['weights'] as "
                             "nn.Conv2d.weight)")
    act = ck["activation"]
    modules, hidden = [], []
    for l, (w, b) in enumerate(ck["weights"]):
        linear = nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if l + 1 < len(ck["weights"]):
            a = nn.LeakyReLU(ck["leaky_slope"]) if act == "leaky_relu" else _ACTIVATIONS[act]()
            hidden.append(str(len(modules)))
            modules.append(a)
    return nn.Sequential(*modules), hidden, list(ck["beta"])


def _betas(layers, beta):
    """One noise std per layer from a number, a list or a dict by name; each finite and > 0."""
    if isinstance(beta, dict):
        missing = [name for name in layers if name not in beta]
        if missing:
            raise ValueError(f"beta: no value for layers {missing}")
        values = [beta[name] for name in layers]
    elif np.ndim(beta) == 0:
        values = [beta] * len(layers)
    else:
        values = list(beta)
        if len(values) != len(layers):
            raise ValueError(f"beta: {len(values)} values for {len(layers)} layers")
    for name, b in zip(layers, values):
        if not (np.isfinite(b) and b > 0):
            raise ValueError(f"beta of layer {name!r} must be finite and > 0, got {b!r}")
    return [float(b) for b in values]


def _collect(model, x, layers, betas, replicas, noise_seed, batch_size):
    """Runs R noisy passes of every row of x (replica r of input i at row i R + r) and returns
    each named module's pre-noise outputs, (m R, d_l) float64 arrays."""
    named = dict(model.named_modules())
    unknown = [name for name in layers if name not in named]
    if unknown:
        raise ValueError(f"layers {unknown} are not modules of the model; its modules are "
                         f"{[n for n in named if n]}")
    gen = torch.Generator(device=x.device).manual_seed(int(noise_seed))
    outputs = {name: [] for name in layers}

    def hook_for(name, b):
        """A forward hook that records the module's output S_l and returns S_l + b Z."""
        def hook(module, args, out):
            outputs[name].append(out.detach().reshape(out.shape[0], -1).to(torch.float64).cpu())
            noise = torch.randn(out.shape, generator=gen, dtype=out.dtype, device=out.device)
            return out + b * noise
        return hook

    handles = [named[name].register_forward_hook(hook_for(name, b))
               for name, b in zip(layers, betas)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            # Chunks of whole inputs, each repeated R times, so that only one batch of the
            # m R rows is ever held (for images they are large).
            per_batch = max(1, batch_size // replicas)
            for i in range(0, x.shape[0], per_batch):
                model(torch.repeat_interleave(x[i:i + per_batch], replicas, dim=0))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rows = x.shape[0] * replicas
    for name in layers:
        got = sum(o.shape[0] for o in outputs[name])
        if got != rows:
            raise ValueError(f"layer {name!r} gave {got} output rows for {rows} rows in "
                             f"(a module called more or less than once per forward pass?)")
    return {name: torch.cat(outputs[name]).numpy() for name in layers}


def measure(model, inputs, labels, layers, beta, replicas, mc=1, seed=1, tolerance=1e-6,
            queries_per_input=0, threads=0, noise_seed=1, batch_size=4096, measured=None,
            progress=None, bias=True):
    """Measures I(X;T_l) and I(Y;T_l) of a PyTorch model made noisy after the named modules.

    X is uniform on the m inputs, Y its label. During the measurement each module named in
    `layers` gets Gaussian noise of std beta added to its output (T_l = S_l + Z_l) through a
    forward hook, so later layers see the noisy T_l; the model runs in eval mode without
    gradients, and its hooks and mode are restored afterwards. For every named layer the m R
    pre-noise outputs S_l (R noisy passes per input) are the centres of the SP mixture; they are
    grouped by input for I(X;T_l) and by label for I(Y;T_l), both from the same draws (as
    `infoflow estimate` does). A layer whose R samples of each input are identical (no noise
    before it, like an infoflow net's first layer) uses one sample per input, so that
    h(T_l | X) is the exact Gaussian entropy.

    Args:
        model: a torch.nn.Module.
        inputs: (m, ...) array or tensor, one input per row (moved to the model's dtype).
        labels: m integer labels.
        layers: names of modules (as in model.named_modules()) after which noise is added and
            whose information is measured, e.g. ["1", "3"] for the activations of an
            nn.Sequential.
        beta: noise std: one number for every layer, a list (one per layer) or a dict by name.
        replicas: R, noisy passes per input.
        mc: Monte Carlo draws per query sample.
        seed: seed of the estimator's draws (layer j of `layers` uses stream j).
        tolerance: truncation tolerance of the mixture sums (0 = exact).
        queries_per_input: draw around only q of each input's R samples (0 = all); raised to the
            next divisor of R; every mixture sum still runs over all m R samples.
        threads: OpenMP threads of the estimator (0 = default); never changes the numbers.
        noise_seed: seed of the torch.Generator that draws the injected noise.
        batch_size: rows per forward pass, at least R (the noise drawn depends on it).
        measured: names among `layers` to estimate (default: all of them). Noise is added after
            every module of `layers` either way, so measuring fewer layers measures the same
            network, and gives the same numbers for those layers.
        progress: progress on stderr as the command line shows it (a refreshing line on a
            terminal, a line every 30 s off one, ETA from the layers measured so far); False
            silences it.

    Returns:
        dict by layer name of dicts with I_XT, I_XT_se, I_YT, I_YT_se, h_T, h_T_given_X,
        h_T_given_Y (nats, as in mi.csv), width, samples_per_input (R or 1), I_XT_se_mc,
        I_YT_se_mc, I_XT_bias, I_YT_bias and se_kind. The *_se are total standard errors (the
        draws and the R noisy samples of each input, stratified by input; the inputs are held
        fixed), *_se_mc the draws' part alone (ESTIMATION.md section 11); se_kind "n/a" (one
        query per input: the total cannot be estimated, *_se NaN) or "exact" (one sample per
        input: the total is the draws'). bias=False skips the bias (NaN), which costs half as
        much again as the estimate.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("layers: give at least one module name")
    betas = _betas(layers, beta)
    measured = layers if measured is None else list(measured)
    if not set(measured) <= set(layers):
        raise ValueError(f"measured: {sorted(set(measured) - set(layers))} not in layers")
    replicas = int(replicas)
    if replicas < 1:
        raise ValueError(f"replicas must be >= 1, got {replicas}")
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float64
    device = param.device if param is not None else torch.device("cpu")
    x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs) else inputs)
    x = x.to(dtype=dtype, device=device)
    y = np.asarray(labels.cpu() if torch.is_tensor(labels) else labels).reshape(-1)
    m = x.shape[0]
    if m < 2 or y.shape[0] != m:
        raise ValueError(f"need at least 2 inputs and one label each, got {m} inputs and "
                         f"{y.shape[0]} labels")
    shown = Progress("infoflow.torch.measure", len(measured), progress)
    shown.update(0, f"{replicas} noisy passes of {m} inputs")
    samples = _collect(model, x, layers, betas, replicas, noise_seed, batch_size)
    result = {}
    for j, (name, b) in enumerate(zip(layers, betas)):
        if name not in measured:
            continue
        shown.update(len(result), f"layer {name!r} ({len(result) + 1}/{len(measured)})")
        s = samples[name]
        d = s.shape[1]
        per_input = replicas
        if replicas > 1 and np.array_equal(s.reshape(m, replicas, d),
                                           np.broadcast_to(s[::replicas, None, :],
                                                           (m, replicas, d))):
            s, per_input = s[::replicas], 1
        stride, q = 1, int(queries_per_input)
        if per_input > 1 and 0 < q < per_input:
            while per_input % q:
                q += 1
            stride = per_input // q
        gx = np.repeat(np.arange(m), per_input)
        gy = np.repeat(y, per_input)
        ixt, iyt = estimators.sp_mi2(s, gx, gy, b, mc=mc, seed=seed, tolerance=tolerance,
                                     threads=threads, query_stride=stride, stream=j, bias=bias,
                                     samples_exact=per_input == 1)
        result[name] = {"I_XT": ixt["mi"], "I_XT_se": ixt["mi_se"], "I_YT": iyt["mi"],
                        "I_YT_se": iyt["mi_se"], "h_T": ixt["h"], "h_T_given_X": ixt["h_cond"],
                        "h_T_given_Y": iyt["h_cond"], "width": d,
                        "samples_per_input": per_input, "I_XT_se_mc": ixt["mi_se_mc"],
                        "I_XT_bias": ixt["mi_bias"], "I_YT_se_mc": iyt["mi_se_mc"],
                        "I_YT_bias": iyt["mi_bias"], "se_kind": ixt["mi_se_kind"]}
    shown.update(len(result), "done")
    shown.close()
    return result
