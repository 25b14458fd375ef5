"""The which-loss guide: what to try first for a problem, and why — written once, shown by ``losskit guide`` and the site.

Each :class:`Problem` names the losses to try first and next (as registry
names with the arguments to pass), what to avoid, and the lab task
(``losskit compare --task T``) that tests the advice. The lab's latest verdict
on that task is not written here: it is read from ``docs/lab-verdicts.json``,
which the lab's runs fill in (``{"<task>": {"verdict": "...", "date": "...",
"command": "..."}}``); a task without a recorded verdict says so rather than
guess.

A choice whose loss is not registered (a loss that lands in a later release)
is left out when the guide is shown, so the guide never points at a name that
``losskit.get`` would refuse.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Dict, List, NamedTuple, Optional, Tuple

__all__ = ["Choice", "Problem", "PROBLEMS", "find", "choices", "load_verdicts", "verdict_line", "lab_line"]

#: where a checkout keeps the lab's verdicts (an installed wheel has none; LOSSKIT_LAB_VERDICTS points elsewhere)
VERDICTS_FILE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "lab-verdicts.json"


class Choice(NamedTuple):
    """A loss to try: its registry name, the call to write, and why."""

    loss: str
    call: str
    why: str


class Problem(NamedTuple):
    key: str
    title: str
    situation: str
    try_first: Tuple[Choice, ...]
    then: Tuple[Choice, ...] = ()
    avoid: str = ""
    #: the lab task that tests the advice (``losskit compare --task``), None where no task exists yet
    lab_task: Optional[str] = None


PROBLEMS: Tuple[Problem, ...] = (
    Problem(
        "regression-outliers",
        "Regression with outliers",
        "Some targets are wrong by a lot (sensor glitches, data-entry errors) and you want the fit of the clean ones.",
        (
            Choice(
                "huber",
                "HuberLoss(delta=1.0)",
                "quadratic for residuals below delta, linear above: an outlier's gradient is capped at delta, so a "
                "few gross errors cannot drag the fit; set delta near the scale of the clean noise.",
            ),
            Choice(
                "l1",
                "L1Loss()",
                "the median's loss: the most robust to outliers, but its gradient does not shrink near the optimum "
                "(lower the learning rate late in training).",
            ),
        ),
        (
            Choice("log_cosh", "LogCoshLoss()", "Huber's shape with no parameter to tune and smooth everywhere."),
            Choice(
                "quantile",
                "QuantileLoss(quantile=0.9)",
                "when over- and under-prediction cost differently, or for prediction intervals.",
            ),
        ),
        "MSELoss when the outliers are errors: squared residuals let the largest few dominate the gradient.",
        "noisy-regression",
    ),
    Problem(
        "imbalanced",
        "Imbalanced classification",
        "A few classes have most of the examples (a long tail) and you care about every class (balanced accuracy, "
        "macro-F1), not only the frequent ones.",
        (
            Choice(
                "logit_adjusted",
                "LogitAdjustedCrossEntropyLoss(class_counts=counts)",
                "adds tau · log prior to the logits during training, which makes the softmax's decision balanced "
                "across classes (Menon et al. 2021); nothing to change at inference.",
            ),
            Choice(
                "cross_entropy",
                "CrossEntropyLoss(weight=inverse_frequency)",
                "inverse-frequency class weights: the simplest fix, often as good as the specialised losses.",
            ),
        ),
        (
            Choice(
                "focal",
                "SoftmaxFocalLoss(gamma=2.0)",
                "down-weights the examples the model already gets right, so training time goes to hard ones.",
            ),
            Choice(
                "ldam",
                "LDAMLoss(class_counts=counts)",
                "larger margins for rarer classes (Cao et al. 2019); pair with deferred re-weighting late in training.",
            ),
        ),
        "judging by plain accuracy: it rewards predicting the frequent classes. Report balanced accuracy or macro-F1.",
        "imbalanced-digits",
    ),
    Problem(
        "noisy-labels",
        "Noisy labels",
        "A fraction of the training labels are wrong (crowd-sourced or weak labels) and the test labels are clean.",
        (
            Choice(
                "generalized_cross_entropy",
                "GeneralizedCrossEntropyLoss(q=0.7)",
                "between cross-entropy (q → 0) and MAE (q = 1): bounded, so a wrongly labelled example cannot "
                "dominate, while it still trains as fast as cross-entropy early on.",
            ),
            Choice(
                "symmetric_cross_entropy",
                "SymmetricCrossEntropyLoss(alpha=0.1, beta=1.0)",
                "cross-entropy plus reverse cross-entropy (Wang et al. 2019): the reverse term is noise-tolerant.",
            ),
        ),
        (
            Choice(
                "cross_entropy",
                "CrossEntropyLoss(label_smoothing=0.1)",
                "label smoothing caps the confidence the model can reach on any label, wrong ones included.",
            ),
            Choice("poly1", "Poly1CrossEntropyLoss(epsilon=-1.0)", "a negative epsilon de-emphasises confident fits."),
        ),
        "training plain cross-entropy to convergence: it memorises the wrong labels; stop early on a clean "
        "validation split if you keep it.",
        "noisy-labels",
    ),
    Problem(
        "rare-events",
        "Rare events (binary, positives ≪ 1%)",
        "Fraud, failures, detections: almost every example is negative and the positives are what matter.",
        (
            Choice(
                "sigmoid_focal",
                "SigmoidFocalLoss(alpha=0.25, gamma=2.0)",
                "RetinaNet's loss: the flood of easy negatives stops swamping the gradient of the few positives.",
            ),
            Choice(
                "bce",
                "BCEWithLogitsLoss(pos_weight=torch.tensor(n_neg / n_pos))",
                "re-weights the positives to balance the classes: simple, calibrated up to the known weight.",
            ),
        ),
        (
            Choice(
                "balanced_bce",
                "BalancedBCEWithLogitsLoss()",
                "balances by the positive fraction of each batch, without counting the dataset.",
            ),
        ),
        "accuracy and ROC-AUC as the only measure: with 0.1% positives both look good for useless models; "
        "use average precision (PR-AUC) or recall at a fixed precision.",
        "rare-event",
    ),
    Problem(
        "small-objects",
        "Segmentation with small objects",
        "The structures you segment cover a few pixels of each image (lesions, cracks, vessels).",
        (
            Choice(
                "dice_ce",
                "DiceCELoss(lambda_dice=1.0, lambda_ce=1.0)",
                "Dice scores each class's overlap regardless of its pixel count, so small objects weigh as much as "
                "the background; the cross-entropy term keeps the gradients well behaved early in training.",
            ),
            Choice(
                "focal_tversky",
                "FocalTverskyLoss(alpha=0.3, beta=0.7, gamma=0.75)",
                "beta > alpha penalises missed pixels (false negatives) more than false alarms, which is what "
                "loses small objects; gamma < 1 focuses on the classes still segmented poorly.",
            ),
        ),
        (
            Choice(
                "lovasz_softmax",
                "LovaszSoftmaxLoss()",
                "a surrogate of the IoU itself: fine-tune with it once a Dice/CE model is close.",
            ),
            Choice("tversky", "TverskyLoss(alpha=0.3, beta=0.7)", "the same trade-off without the focal exponent."),
        ),
        "pixel-wise cross-entropy alone: the background's pixels outvote the object's.",
        "small-objects",
    ),
    Problem(
        "metric-learning",
        "Metric learning and retrieval",
        "You need embeddings whose distances mean similarity: retrieval, face or product identification, "
        "few-shot, classes unseen at training time (open set).",
        (
            Choice(
                "supervised_contrastive",
                "SupConLoss(temperature=0.1)",
                "every same-label pair in the batch is a positive and every other example a negative: strong, "
                "few knobs; with gather=True under DDP the negatives come from the global batch.",
            ),
            Choice(
                "arcface",
                "ArcFaceLoss(num_classes, embedding_dim, scale=64.0, margin=0.5)",
                "an additive angular margin against learned class centres: the standard for identification with "
                "many classes and few examples per batch.",
            ),
        ),
        (
            Choice(
                "batch_triplet",
                'BatchTripletLoss(mining="semi_hard", margin=0.2)',
                "FaceNet's semi-hard triplets: robust when labels are coarse; batch_hard converges faster but is "
                "sensitive to label noise.",
            ),
            Choice(
                "info_nce",
                "InfoNCELoss(temperature=0.07, symmetric=True)",
                "paired data (image–text, two views): CLIP's symmetric loss with in-batch negatives.",
            ),
        ),
        "small batches with in-batch negatives: the contrastive losses need many negatives; use gather=True "
        "across processes or a larger batch.",
        "open-set-retrieval",
    ),
    Problem(
        "boxes",
        "Bounding boxes",
        "Box regression in a detector (anchor-based, DETR-style or keypoint-style).",
        (
            Choice(
                "giou",
                "GIoULoss()",
                "IoU with a term for the enclosing box, so non-overlapping boxes still get a gradient toward the "
                "target; DETR pairs it with an L1 term on the coordinates.",
            ),
            Choice(
                "ciou",
                "CIoULoss()",
                "adds the centre distance and the aspect-ratio mismatch: faster convergence in YOLO-style detectors.",
            ),
        ),
        (
            Choice("diou", "DIoULoss()", "the centre-distance term without the aspect-ratio term."),
            Choice("eiou", "EIoULoss()", "penalises width and height errors directly instead of their ratio."),
        ),
        "plain IoU loss for boxes that may not overlap the target: its gradient is zero there.",
    ),
    Problem(
        "sequences",
        "Sequences",
        "Speech, handwriting or OCR where the alignment between frames and labels is unknown.",
        (
            Choice(
                "ctc",
                "CTCLoss(blank=0, zero_infinity=True)",
                "sums over every alignment of the label sequence to the frames: no frame-level labels needed; "
                "zero_infinity drops impossible samples (targets longer than the input) instead of returning inf.",
            ),
        ),
        (
            Choice(
                "cross_entropy",
                "CrossEntropyLoss(ignore_index=pad_id, label_smoothing=0.1)",
                "aligned targets (a decoder with teacher forcing): per-token cross-entropy with padding ignored.",
            ),
        ),
        "measuring with the loss alone: report the error rates (losskit.sequence's char_error_rate, word_error_rate).",
    ),
    Problem(
        "gans",
        "GANs",
        "Training a generator against a discriminator (critic).",
        (
            Choice(
                "gan_discriminator",
                'DiscriminatorLoss(kind="non_saturating")',
                "the standard GAN loss in its non-saturating form, with GeneratorLoss() for the generator; add "
                "R1Penalty(gamma=10.0) on real data (StyleGAN's recipe) for stable training.",
            ),
            Choice(
                "gradient_penalty",
                "GradientPenalty(weight=10.0)",
                'WGAN-GP: DiscriminatorLoss(kind="wasserstein") plus this penalty on interpolates; a critic '
                "without batch normalisation.",
            ),
        ),
        (
            Choice("r1", "R1Penalty(gamma=10.0)", "penalises the critic's gradient on real data only."),
            Choice(
                "gan_generator",
                'GeneratorLoss(kind="hinge")',
                "with DiscriminatorLoss(kind='hinge'): SAGAN's / BigGAN's choice.",
            ),
        ),
        'kind="minimax" for the generator: its gradient vanishes when the discriminator wins early.',
    ),
    Problem(
        "large-vocab",
        "Large vocabularies",
        "A language-model head or any classifier with tens of thousands of classes, where the (N, V) logits "
        "do not fit in memory.",
        (
            Choice(
                "linear_cross_entropy",
                "LinearCrossEntropyLoss(hidden_size, vocab_size)",
                "fuses the output projection with the cross-entropy and works in chunks, so the (N, V) logits are "
                "never stored: the same numbers as Linear + cross_entropy at a fraction of the memory.",
            ),
        ),
        (
            Choice(
                "cross_entropy",
                "CrossEntropyLoss(ignore_index=-100)",
                "when the logits fit: the plain form (torch's kernel).",
            ),
        ),
        "materialising float32 logits for a long batch and a big vocabulary: N × V × 4 bytes, twice with the gradient.",
    ),
)


def find(key: str) -> Problem:
    """The problem with this key (or a unique key prefix); ``ValueError`` listing the keys otherwise."""
    wanted = key.strip().lower()
    exact = [p for p in PROBLEMS if p.key == wanted]
    matches = exact or [p for p in PROBLEMS if p.key.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    keys = ", ".join(p.key for p in PROBLEMS)
    what = "ambiguous" if matches else "unknown"
    raise ValueError(f"losskit guide: {what} problem {key!r}; expected one of {keys}")


def choices(problem: Problem, which: str = "try_first") -> List[Choice]:
    """The problem's choices whose loss is registered (a loss of a later release is left out)."""
    from ._core.registry import available

    names = set(available())
    return [c for c in getattr(problem, which) if c.loss in names]


def load_verdicts(path: Optional[pathlib.Path] = None) -> Dict[str, Dict[str, str]]:
    """The lab's recorded verdicts by task: ``path``, else ``$LOSSKIT_LAB_VERDICTS``, else the checkout's file.

    A missing file gives no verdicts; a file that is not a JSON object of objects raises ``ValueError``.
    """
    source = path or pathlib.Path(os.environ.get("LOSSKIT_LAB_VERDICTS") or VERDICTS_FILE)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"losskit guide: {source} must hold a JSON object of task -> {{'verdict': ...}}")
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def lab_line(problem: Problem) -> str:
    if problem.lab_task is None:
        return "no lab task tests this yet"
    return f"losskit compare --task {problem.lab_task}"


def verdict_line(problem: Problem, verdicts: Dict[str, Dict[str, str]]) -> str:
    """The task's recorded verdict, or a placeholder that says none is recorded (never a made-up one)."""
    if problem.lab_task is None:
        return "— (no lab task)"
    entry = verdicts.get(problem.lab_task)
    if not entry or not entry.get("verdict"):
        return f"[no verdict recorded yet for {problem.lab_task} in docs/lab-verdicts.json]"
    extra = ", ".join(entry[k] for k in ("date", "command") if entry.get(k))
    return entry["verdict"] + (f" ({extra})" if extra else "")
