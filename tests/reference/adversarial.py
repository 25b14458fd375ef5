"""Adversarial references (NumPy, float64), written from the formulas of issue 16 and the papers.

Critic scores are raw logits: r for real samples, f for generated ones. Each
loss is the sum of its per-term means (each term averaged over its own batch);
"sum" sums each term; "none" is real term + fake term per pair. Scores of
shape (N, 1) are read as (N,). Least squares uses the factor 1/2 (Mao et al.
2017, TF-GAN).

The penalties need the critic's input gradient. A critic here is any object
with ``params``: a dict with ``"w"`` (D,) and ``"b"`` for a linear critic
D(x) = <w, flat(x)> + b, or ``"W"`` (H, D), ``"c"`` (H,), ``"v"`` (H,), ``"b"``
for D(x) = <v, tanh(W flat(x) + c)> + b; the gradients below are written out
by hand from those formulas.
"""

import numpy as np

from . import reduce


def log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def softplus(x):
    return np.logaddexp(0.0, x)


def _scores(x):
    x = np.asarray(x, dtype=np.float64)
    return x[:, 0] if x.ndim == 2 and x.shape[1] == 1 else x


def _mean(x):
    return x.mean() if x.size else 0.0


def _combine(real_term, fake_term, reduction):
    if reduction == "none":
        assert real_term.shape == fake_term.shape, "reference: 'none' needs scores of one shape"
        return real_term + fake_term
    return reduce(real_term, reduction) + reduce(fake_term, reduction)


def _bce(x, t):
    """-t log σ(x) - (1 - t) log(1 - σ(x)), with log(1 - σ(x)) = log σ(-x); a zero coefficient's term is 0.

    (Left out rather than multiplied: 0 · log σ(-x) is 0 · (-inf) = NaN at x = +inf.)
    """
    loss = np.zeros_like(np.asarray(x, dtype=np.float64))
    if t != 0.0:
        loss = loss - t * log_sigmoid(x)
    if t != 1.0:
        loss = loss - (1.0 - t) * log_sigmoid(-x)
    return loss


def discriminator(r, f, kind="non_saturating", label_smoothing=0.0, reduction="mean"):
    r, f = _scores(r), _scores(f)
    t = 1.0 - label_smoothing
    if kind in ("minimax", "non_saturating"):
        real_term, fake_term = _bce(r, t), -log_sigmoid(-f)
    elif kind == "least_squares":
        real_term, fake_term = 0.5 * (r - t) ** 2, 0.5 * f**2
    elif kind == "hinge":
        real_term, fake_term = np.maximum(0.0, 1.0 - r), np.maximum(0.0, 1.0 + f)
    elif kind == "wasserstein":
        real_term, fake_term = -r, f
    elif kind == "relativistic_average":
        real_term = _bce(r - _mean(f), t)
        fake_term = -log_sigmoid(-(f - _mean(r)))
    else:
        raise ValueError(kind)
    return _combine(real_term, fake_term, reduction)


def generator(f, kind="non_saturating", real_logits=None, reduction="mean"):
    f = _scores(f)
    if kind == "relativistic_average":
        r = _scores(real_logits)
        fake_term = -log_sigmoid(f - _mean(r))
        real_term = -log_sigmoid(-(r - _mean(f)))
        return _combine(real_term, fake_term, reduction)
    if kind == "minimax":
        term = log_sigmoid(-f)  # log(1 - σ(f))
    elif kind == "non_saturating":
        term = -log_sigmoid(f)
    elif kind == "least_squares":
        term = 0.5 * (f - 1.0) ** 2
    elif kind in ("hinge", "wasserstein"):
        term = -f
    else:
        raise ValueError(kind)
    return reduce(term, reduction)


def _flat(x):
    """(N, *) -> (N, D), also for N = 0 and for (N,) samples of one number."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), int(np.prod(x.shape[1:])))


def critic_value(params, x):
    """D(x) per sample, for the linear or the tanh critic."""
    x = _flat(x)
    if "w" in params:
        return x @ params["w"] + params["b"]
    return np.tanh(x @ params["W"].T + params["c"]) @ params["v"] + params["b"]


def critic_input_gradient(params, x):
    """∇ₓ D(x) per sample, shape of x: w for the linear critic, Wᵀ(v ⊙ (1 − tanh²(Wx + c))) for the tanh one."""
    x = np.asarray(x, dtype=np.float64)
    flat = _flat(x)
    if "w" in params:
        grad = np.broadcast_to(params["w"], flat.shape)
    else:
        h = np.tanh(flat @ params["W"].T + params["c"])
        grad = ((1.0 - h**2) * params["v"]) @ params["W"]
    return grad.reshape(x.shape)


def gradient_penalty(critic, real, fake, target_norm=1.0, weight=10.0, interpolation=None):
    params = critic.params
    n = len(real)
    if interpolation is None:
        if "w" not in params:
            raise ValueError("reference: a non-linear critic needs explicit interpolation weights")
        interpolation = np.full(n, 0.5)  # a linear critic's gradient is the same at every interpolate
    eps = np.asarray(interpolation, dtype=np.float64).reshape((n,) + (1,) * (np.ndim(real) - 1))
    x_hat = eps * real + (1.0 - eps) * fake
    g = _flat(critic_input_gradient(params, x_hat))
    norm = np.sqrt((g**2).sum(1))
    return weight * _mean((norm - target_norm) ** 2)


def r1(derived, x, gamma=10.0):
    """``derived`` stands for real_logits = critic(x); only the critic's input gradient matters."""
    g = _flat(critic_input_gradient(derived.critic.params, x))
    return 0.5 * gamma * _mean((g**2).sum(1))
