"""float64 NumPy references for the sequence family: CTC's forward algorithm and Levenshtein distance.

Written from Graves et al. (2006), section 4.1, and the textbook edit-distance
recurrence; nothing here imports losskit or calls torch.
"""

import numpy as np

from . import reduce


def _logsumexp(values):
    values = np.asarray(values, dtype=np.float64)
    top = np.max(values)
    if not np.isfinite(top):
        return top if top > 0 or np.isnan(top) else -np.inf
    return top + np.log(np.sum(np.exp(values - top)))


def ctc_single(log_probs, label, blank=0):
    """-log p(label | x) for one sequence: ``log_probs`` (T, C) over the frames used, ``label`` a list of ints."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    steps = log_probs.shape[0]
    extended = [blank]
    for k in label:
        extended += [int(k), blank]
    states = len(extended)
    if steps == 0:
        return 0.0 if len(label) == 0 else np.inf
    alpha = np.full(states, -np.inf)
    alpha[0] = log_probs[0, extended[0]]
    if states > 1:
        alpha[1] = log_probs[0, extended[1]]
    for t in range(1, steps):
        new = np.full(states, -np.inf)
        for s in range(states):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and extended[s] != blank and extended[s] != extended[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = _logsumexp(terms) + log_probs[t, extended[s]]
        alpha = new
    ends = [alpha[-1]] + ([alpha[-2]] if states > 1 else [])
    return -_logsumexp(ends)


def _labels(targets, target_lengths):
    """Per-sample label lists from padded (N, S) or concatenated 1-D targets."""
    targets = np.asarray(targets)
    lengths = [int(v) for v in np.asarray(target_lengths).reshape(-1)]
    if targets.ndim == 2:
        return [list(targets[n, : lengths[n]]) for n in range(len(lengths))]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return [list(targets[offsets[n] : offsets[n + 1]]) for n in range(len(lengths))]


def ctc_loss(
    log_probs,
    targets,
    input_lengths,
    target_lengths,
    blank=0,
    reduction="mean",
    zero_infinity=False,
    batch_first=False,
):
    """CTC as torch defines it: "mean" divides each sample's loss by max(target length, 1), then averages."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs[:, None, :]
        targets = np.asarray(targets)[None, :]
    elif batch_first:
        log_probs = log_probs.transpose(1, 0, 2)
    input_lengths = np.asarray(input_lengths).reshape(-1)
    target_lengths = np.asarray(target_lengths).reshape(-1)
    labels = _labels(targets, target_lengths)
    losses = np.array(
        [ctc_single(log_probs[: int(input_lengths[n]), n], labels[n], blank) for n in range(len(labels))],
        dtype=np.float64,
    )
    if zero_infinity:
        losses = np.where(np.isposinf(losses), 0.0, losses)
    if reduction == "mean":
        losses = losses / np.maximum(target_lengths, 1)
    out = reduce(losses, reduction)
    return out[0] if unbatched and reduction == "none" else out


def levenshtein(a, b):
    """Edit distance of two sequences (insertions, deletions, substitutions each cost 1)."""
    a, b = list(a), list(b)
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        new = [i]
        for j, y in enumerate(b, 1):
            new.append(min(row[j] + 1, new[j - 1] + 1, row[j - 1] + (x != y)))
        row = new
    return row[-1]
