"""The migration guides' one table: every loss of each peer library, the losskit loss that replaces it, the
arguments to pass and the documented differences.

The family pages read the same table backwards ("Replaces"). ``tests/test_docs_site.py`` checks it against
the libraries' own loss lists (each loss class they export has a row) and every losskit name against
``losskit.describe``. ``losskit`` is a registry name; None means losskit has no such loss.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple


class Row(NamedTuple):
    peer: str
    losskit: Optional[str]
    arguments: str = ""
    differences: str = ""


class Library(NamedTuple):
    slug: str
    title: str
    #: the module whose loss classes the test enumerates (None: read from source, not importable here)
    module: Optional[str]
    intro: str
    rows: Tuple[Row, ...]
    notes: str = ""


_OUT_OF_SCOPE_REG = "image registration / reconstruction loss: out of losskit's scope"
_IMAGE_QUALITY = "an image-quality loss (not a prediction-vs-target loss over labels): out of losskit's scope"

TORCH_GENERAL = """
## Differences that hold for every torch.nn loss

losskit's names, arguments and numbers are torch's where torch has the loss; losskit calls torch's kernel and is
tested against it in float64. Where losskit differs, it is on purpose:

| situation | torch | losskit |
|---|---|---|
| every target is `ignore_index`, or the batch is empty, `reduction="mean"` | NaN | 0, still on the graph; `backward()` gives zero gradients |
| `cross_entropy` with `weight` and `label_smoothing` where every counted target has weight 0 | NaN | 0 (nothing to average), still on the graph |
| class-index targets of dtype int32, int16, int8 (or uint8) | `expected target dtype to be Long or Byte` | every integer dtype accepted, cast to int64 once; bool targets raise `TypeError` |
| `C = 0` classes | a kernel error, or NaN | `ValueError`: at least one class |
| `nll_loss` backward on a channels_last `(N, C, H, W)` input | `grad_input must be contiguous` | works (the input is made contiguous) |
| a score of ±inf in `multilabel_soft_margin_loss` | NaN | the loss's limit, 0 or inf |
| `binary_cross_entropy` gradient with respect to a target, at probabilities 0 and 1 | ±inf | finite (the derivative of the clamped value torch computes) |
| integer or bool targets of an elementwise loss | promoted by some losses, an error for others | cast to the input's dtype by every elementwise loss |
| a hyperparameter of NaN, ±inf or the wrong type | accepted, or a kernel error | `ValueError` / `TypeError` naming the function and argument |
| a Python list as input or target | `AttributeError` or a kernel error | `TypeError`: pass a tensor |
| `mse_loss(input (N, 1), target (N,))` | a warning, then an (N, N) loss | `ValueError` naming both shapes, for every elementwise loss |
| float class-index targets `(N,)` | a dtype error deep in the kernel | `TypeError`: pass integers, or probabilities of the input's shape |
| a class index out of range | `IndexError` (CPU) or a device assert (CUDA) | `ValueError` naming the class and the valid range |
| a class `weight` of the wrong length | a kernel error | `ValueError` at construction or call |
| NaN in `binary_cross_entropy` / `multi_margin_loss` / `multilabel_margin_loss` input | an error / silently dropped | NaN propagates to the loss |
| `soft_margin_loss` at margins beyond ~89 (float32) | `inf` | exact, finite |
| `kl_div` gradient with respect to a zero-probability target | NaN | finite |
| `multi_margin_loss` of an empty batch with `reduction="sum"` | uninitialised memory | 0 |
| `multilabel_margin_loss` under `torch.compile` | a different number from eager | the same number |
| float16 / bfloat16 inputs | computed and returned in half precision | computed in float32, float32 loss, gradients in the input's dtype |

Data-dependent checks (class ranges, negative variances) always run on CPU and, on accelerators, until
`losskit.set_validation(False)`.
"""

LIBRARIES: Tuple[Library, ...] = (
    Library(
        "torch-nn",
        "torch.nn",
        "torch.nn",
        "Same names, same arguments, same numbers: `import losskit as lk` and replace `nn.XLoss` with `lk.XLoss` "
        "(or `F.x` with `losskit.functional.x`). The rows list the per-loss differences; the table after them the "
        "ones every loss shares.",
        (
            Row("L1Loss", "l1"),
            Row("MSELoss", "mse"),
            Row("SmoothL1Loss", "smooth_l1", "`beta`", "`beta=0` is L1 (as torch)"),
            Row("HuberLoss", "huber", "`delta`", "`delta` must be > 0 and finite (`ValueError`)"),
            Row(
                "KLDivLoss",
                "kl_div",
                '`log_target`, `reduction` incl. `"batchmean"`',
                "finite gradient at zero-probability targets",
            ),
            Row("PoissonNLLLoss", "poisson_nll", "`log_input`, `full`, `eps`", ""),
            Row(
                "GaussianNLLLoss",
                "gaussian_nll",
                "`full`, `eps`; `var` is the third positional input",
                "a negative variance raises `ValueError` (a data check)",
            ),
            Row(
                "CrossEntropyLoss",
                "cross_entropy",
                "`weight` (positional, as torch), `ignore_index`, `label_smoothing`",
                "all-ignored or empty batch gives 0, not NaN; any integer target dtype",
            ),
            Row("NLLLoss", "nll", "`weight`, `ignore_index`", "channels_last backward works"),
            Row(
                "BCELoss", "binary_cross_entropy", "`weight`", "finite target gradient at 0 and 1; NaN input propagates"
            ),
            Row(
                "BCEWithLogitsLoss", "bce", "`weight`, `pos_weight`; adds `label_smoothing`", "integer targets are cast"
            ),
            Row(
                "MultiMarginLoss",
                "multi_margin",
                "`p`, `margin`, `weight`",
                'empty batch with `"sum"` is 0; NaN propagates',
            ),
            Row("MultiLabelMarginLoss", "multilabel_margin", "", "same number under `torch.compile`; NaN propagates"),
            Row("SoftMarginLoss", "soft_margin", "", "finite at large margins (`-logsigmoid(y·x)`)"),
            Row(
                "MultiLabelSoftMarginLoss", "multilabel_soft_margin", "`weight`", "±inf scores give the limit, not NaN"
            ),
            Row("MarginRankingLoss", "margin_ranking", "`margin`", ""),
            Row("HingeEmbeddingLoss", "hinge_embedding", "`margin`", ""),
            Row("CosineEmbeddingLoss", "cosine_embedding", "`margin`", ""),
            Row("TripletMarginLoss", "triplet_margin", "`margin`, `p`, `eps`, `swap`", ""),
            Row(
                "TripletMarginWithDistanceLoss",
                "triplet_margin_with_distance",
                "`distance_function`, `margin`, `swap`",
                "",
            ),
            Row("CTCLoss", "ctc", "`blank`, `zero_infinity`; adds `batch_first`", "empty batch gives 0 on the graph"),
            Row(
                "AdaptiveLogSoftmaxWithLoss",
                "linear_cross_entropy",
                "`LinearCrossEntropyLoss(in_features, n_classes)`",
                "the exact cross-entropy over the whole vocabulary, chunked so the logits are never stored (the "
                "adaptive softmax approximates the rare classes through clusters); no `cutoffs`, `log_prob` or "
                "`predict`; returns the loss only, not `(output, loss)`",
            ),
            Row(
                "LinearCrossEntropyLoss",
                "linear_cross_entropy",
                "`LinearCrossEntropyLoss(in_features, num_classes, bias=..., weight=..., ignore_index=..., label_smoothing=...)`",
                "losskit's default `ignore_index` is -100 (torch 2.13's is None); adds `chunk_size`, `softcap` and "
                "`z_loss`; the (N, V) logits are never stored (chunked forward and backward)",
            ),
        ),
        TORCH_GENERAL,
    ),
    Library(
        "keras",
        "Keras 3",
        "keras.losses",
        "`losskit.keras` has Keras 3's loss functions and classes with Keras's semantics — `(y_true, y_pred)`, "
        "probabilities in unless `from_logits=True`, Keras's epsilon clipping, per-sample means over the last axis, "
        "Keras's reductions and sample weights — matching Keras 3 to 1e-5 (tested against Keras on the torch "
        "backend): `import losskit.keras as lkk; lkk.CategoricalCrossentropy(from_logits=True)`. The losskit "
        "column is the core loss (torch's conventions: prediction first, logits in) for code that leaves Keras's "
        "conventions behind.",
        (
            Row(
                "MeanSquaredError",
                "mse",
                "`lkk.MeanSquaredError()`; core: `mse(y_pred, y_true)`",
                "core: a mean over every element, not per sample over the last axis",
            ),
            Row("MeanAbsoluteError", "l1", "`lkk.MeanAbsoluteError()`; core: `l1(y_pred, y_true)`", "as MSE"),
            Row(
                "MeanAbsolutePercentageError",
                "mape",
                "`lkk.MeanAbsolutePercentageError()`",
                "a percentage (×100), as Keras",
            ),
            Row("MeanSquaredLogarithmicError", "msle", "`lkk.MeanSquaredLogarithmicError()`", ""),
            Row("Huber", "huber", "`lkk.Huber(delta=1.0)`", "`get_config()` keeps `delta` (Keras's forgets it)"),
            Row("LogCosh", "log_cosh", "`lkk.LogCosh()`", "stable at residuals of 1e4"),
            Row("Hinge", "hinge", "`lkk.Hinge()`", "targets in {-1, 1} or {0, 1}"),
            Row("SquaredHinge", "squared_hinge", "`lkk.SquaredHinge()`", ""),
            Row("CategoricalHinge", "categorical_hinge", "`lkk.CategoricalHinge()`", ""),
            Row(
                "BinaryCrossentropy",
                "bce",
                "`lkk.BinaryCrossentropy(from_logits=True)`; core: `bce(logits, y_true)` (or `binary_cross_entropy` for probabilities)",
                "core: no epsilon clipping (log clamped at -100, as torch)",
            ),
            Row(
                "BinaryFocalCrossentropy",
                "sigmoid_focal",
                "`lkk.BinaryFocalCrossentropy(...)`; core: `sigmoid_focal(logits, y_true, alpha=..., gamma=...)`",
                "core: `alpha=None` for Keras's `apply_class_balancing=False`",
            ),
            Row(
                "CategoricalCrossentropy",
                "cross_entropy",
                "`lkk.CategoricalCrossentropy(from_logits=True, label_smoothing=...)`; core: probability targets of the input's shape",
                "",
            ),
            Row(
                "SparseCategoricalCrossentropy",
                "cross_entropy",
                "`lkk.SparseCategoricalCrossentropy(ignore_class=...)`; core: `ignore_index=`",
                "all-ignored batch gives 0",
            ),
            Row(
                "CategoricalFocalCrossentropy",
                "focal",
                "`lkk.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0)`; core: `focal(logits, targets, alpha=..., gamma=...)`",
                "core: `alpha=None` by default (Keras: 0.25)",
            ),
            Row(
                "CategoricalGeneralizedCrossEntropy",
                "generalized_cross_entropy",
                "`lkk.CategoricalGeneralizedCrossEntropy(q=...)`",
                "",
            ),
            Row(
                "KLDivergence",
                "kl_div",
                "`lkk.KLDivergence()`; core: `kl_div(log_probs, target)`",
                "core takes log-probabilities, as torch",
            ),
            Row(
                "Poisson",
                "poisson_nll",
                "`lkk.Poisson()`; core: `poisson_nll(rate, y_true, log_input=False)`",
                "core: torch's `eps=1e-8` inside the log (Keras: its epsilon, 1e-7)",
            ),
            Row("CosineSimilarity", "cosine_similarity_loss", "`lkk.CosineSimilarity(axis=-1)`", ""),
            Row(
                "Circle",
                "circle",
                "`lkk.Circle(gamma=80, margin=0.4)`",
                "core normalises the embeddings (equal on unit-norm inputs)",
            ),
            Row(
                "Dice",
                "dice",
                "core: `dice(logits, target)` (not in `losskit.keras`)",
                "Keras's Dice reduces over its `axis` argument; losskit's gives one score per (sample, class), pooled over the batch with `batch=True`",
            ),
            Row(
                "Tversky",
                "tversky",
                "core: `tversky(logits, target, alpha=beta_keras, beta=alpha_keras)` (not in `losskit.keras`)",
                "Keras puts `alpha` on the false negatives, losskit (and MONAI) on the false positives",
            ),
            Row(
                "CTC",
                "ctc",
                "core: `ctc(log_probs, targets, input_lengths, target_lengths, batch_first=True)`",
                "Keras takes dense padded labels and softmax outputs; losskit log-probabilities and lengths",
            ),
        ),
        "Two deliberate departures of `losskit.keras`: an empty batch reduces to 0 (Keras returns the empty tensor), "
        "and `get_config()` also keeps the hyperparameters Keras's own config forgets (Huber's `delta`). "
        "`lkk.get` takes Keras's names, class names and aliases (mse, mae, mape, msle, bce, kld, logcosh, cosine_proximity).",
    ),
    Library(
        "torchvision",
        "torchvision",
        None,
        "torchvision's losses are functions in `torchvision.ops` (torchvision does not import beside torch 2.13 "
        "here, so this table is checked against its source, `torchvision/ops/__init__.py`). losskit's are tested "
        "against an operation-for-operation port of torchvision's code (`tests/torchvision_boxes.py`).",
        (
            Row(
                "sigmoid_focal_loss",
                "sigmoid_focal",
                "`alpha`, `gamma`; `alpha=None` replaces `alpha=-1`",
                'default reduction `"mean"` (torchvision: `"none"`); adds `label_smoothing`',
            ),
            Row(
                "generalized_box_iou_loss",
                "giou",
                "`eps`; adds `box_format`",
                'default reduction `"mean"` (torchvision: `"none"`); a box with x2 < x1 raises `ValueError`',
            ),
            Row("distance_box_iou_loss", "diou", "`eps`; adds `box_format`", "as GIoU"),
            Row(
                "complete_box_iou_loss",
                "ciou",
                "`eps`; adds `box_format`",
                "finite at zero-area boxes (torchvision: NaN; `atan2(w, h)`); `eps` applied everywhere (equal at the default)",
            ),
        ),
    ),
    Library(
        "kornia",
        "kornia",
        "kornia.losses",
        "kornia's losses take logits and class-index targets like losskit; the differences are mostly defaults.",
        (
            Row(
                "FocalLoss",
                "focal",
                "`alpha`, `gamma`, `weight`, `ignore_index`",
                'default reduction `"mean"` (kornia: `"none"`); losskit\'s `alpha` may be per class',
            ),
            Row(
                "BinaryFocalLossWithLogits",
                "sigmoid_focal",
                "`alpha`, `gamma`",
                'default reduction `"mean"` (kornia: `"none"`); kornia weights the negatives by 1 − α',
            ),
            Row(
                "DiceLoss",
                "dice",
                "`weight`, `ignore_index`",
                'kornia averages `"micro"` (classes pooled) or `"macro"`; losskit gives one score per (sample, class) with `smooth=1e-5` in numerator and denominator (kornia: `eps=1e-8`)',
            ),
            Row("TverskyLoss", "tversky", "`alpha`, `beta`", "`smooth` instead of kornia's `eps`"),
            Row("LovaszHingeLoss", "lovasz_hinge", "", ""),
            Row(
                "LovaszSoftmaxLoss",
                "lovasz_softmax",
                '`classes="present"|"all"`, `per_image`',
                "losskit has no class `weight`",
            ),
            Row(
                "CharbonnierLoss",
                None,
                "",
                "a robust regression loss losskit lacks; `log_cosh` or `huber` have the same shape",
            ),
            Row("CauchyLoss", None, "", "a robust regression loss losskit lacks; try `huber` or `l1`"),
            Row("GemanMcclureLoss", None, "", "a robust regression loss losskit lacks; try `huber` or `l1`"),
            Row("WelschLoss", None, "", "a robust regression loss losskit lacks; try `huber` or `l1`"),
            Row("HausdorffERLoss", None, "", "a boundary loss losskit lacks"),
            Row("HausdorffERLoss3D", None, "", "a boundary loss losskit lacks"),
            Row("InverseDepthSmoothnessLoss", None, "", _OUT_OF_SCOPE_REG),
            Row("MILossFromRef", None, "", _OUT_OF_SCOPE_REG),
            Row("MILossFromRef2D", None, "", _OUT_OF_SCOPE_REG),
            Row("MILossFromRef3D", None, "", _OUT_OF_SCOPE_REG),
            Row("NMILossFromRef", None, "", _OUT_OF_SCOPE_REG),
            Row("NMILossFromRef2D", None, "", _OUT_OF_SCOPE_REG),
            Row("NMILossFromRef3D", None, "", _OUT_OF_SCOPE_REG),
            Row("MS_SSIMLoss", None, "", _IMAGE_QUALITY),
            Row("SSIMLoss", None, "", _IMAGE_QUALITY),
            Row("SSIM3DLoss", None, "", _IMAGE_QUALITY),
            Row("PSNRLoss", None, "", _IMAGE_QUALITY),
            Row("TotalVariation", None, "", "a regulariser on one image, not a loss against a target: out of scope"),
        ),
    ),
    Library(
        "smp",
        "segmentation_models_pytorch",
        "segmentation_models_pytorch.losses",
        'smp\'s losses take a `mode` (`"binary"`, `"multiclass"`, `"multilabel"`); losskit\'s segmentation '
        'losses take an `activation` instead: `"softmax"` for multiclass, `"sigmoid"` for binary and '
        "multilabel. smp's package does not import without torchvision; its `losses/` does on its own.",
        (
            Row(
                "DiceLoss",
                "dice",
                '`activation="softmax"` for `mode="multiclass"`; `smooth`, `ignore_index`',
                "smp sums over the batch (losskit: `batch=True`); smp skips classes absent from the batch",
            ),
            Row("JaccardLoss", "jaccard", "as Dice", "as Dice"),
            Row(
                "TverskyLoss",
                "tversky",
                "`alpha` (false positives), `beta` (false negatives); smp's `gamma` is `focal_tversky`'s",
                "smp sums over the batch (losskit: `batch=True`)",
            ),
            Row(
                "FocalLoss",
                "sigmoid_focal",
                '`mode="binary"`/`"multilabel"`: `sigmoid_focal`; `mode="multiclass"`: `focal`',
                "smp's multiclass focal is a one-vs-rest sigmoid focal per class",
            ),
            Row(
                "LovaszLoss",
                "lovasz_softmax",
                '`mode="multiclass"`: `lovasz_softmax`; `mode="binary"`: `lovasz_hinge`',
                "",
            ),
            Row(
                "SoftBCEWithLogitsLoss",
                "bce",
                "`pos_weight`, `label_smoothing`, `ignore_index` → `sample_weight` mask",
                "losskit's `bce` has no `ignore_index`: pass `sample_weight=(target != ignore)`",
            ),
            Row(
                "SoftCrossEntropyLoss",
                "cross_entropy",
                "`label_smoothing`, `ignore_index`",
                "smp's `smooth_factor` is `label_smoothing`",
            ),
            Row("MCCLoss", None, "", "Matthews correlation loss: losskit lacks it"),
        ),
    ),
    Library(
        "monai",
        "MONAI",
        "monai.losses",
        "MONAI's segmentation losses take `to_onehot_y` and a `softmax`/`sigmoid` flag; losskit takes class-index "
        "or one-hot targets as they are and an `activation`. `DiceLoss(softmax=True, to_onehot_y=True, smooth_nr=s, "
        "smooth_dr=s)` is `dice(logits, labels, smooth=s)` (tested: same values and gradients).",
        (
            Row(
                "DiceLoss",
                "dice",
                '`softmax=True` → `activation="softmax"`; `squared_pred` → `squared`; `smooth_nr`/`smooth_dr` → `smooth`',
                'weighted `"mean"` divides by N·Σw (MONAI: N·C)',
            ),
            Row("Dice", "dice", "alias of `DiceLoss`", ""),
            Row(
                "MaskedDiceLoss",
                "dice",
                "a mask → `ignore_index` on class-index targets",
                "losskit masks by target value, not by a separate mask tensor",
            ),
            Row("GeneralizedDiceLoss", "generalized_dice", "`w_type`", ""),
            Row("generalized_dice", "generalized_dice", "alias of `GeneralizedDiceLoss`", ""),
            Row("TverskyLoss", "tversky", "`alpha` (false positives), `beta` (false negatives)", ""),
            Row("DiceCELoss", "dice_ce", "`lambda_dice`, `lambda_ce`, `label_smoothing`", ""),
            Row("dice_ce", "dice_ce", "alias of `DiceCELoss`", ""),
            Row(
                "DiceFocalLoss",
                "dice",
                "`lk.combine(lk.DiceLoss(), lk.SoftmaxFocalLoss(), weights=(lambda_dice, lambda_focal))`",
                "a weighted sum built with `losskit.combine` (`.last` holds each term)",
            ),
            Row("dice_focal", "dice", "alias of `DiceFocalLoss`", ""),
            Row(
                "GeneralizedDiceFocalLoss",
                "generalized_dice",
                "`lk.combine(lk.GeneralizedDiceLoss(), lk.SoftmaxFocalLoss(), weights=...)`",
                "as DiceFocalLoss",
            ),
            Row("generalized_dice_focal", "generalized_dice", "alias of `GeneralizedDiceFocalLoss`", ""),
            Row(
                "FocalLoss",
                "focal",
                "`use_softmax=True` → `focal`; `use_softmax=False` → `sigmoid_focal`",
                "MONAI's sigmoid focal weights class 0 by 1 − α",
            ),
            Row("BoxGIoULoss", "giou", "", 'default reduction `"mean"` as MONAI'),
            Row("giou", "giou", "alias of `BoxGIoULoss`", ""),
            Row(
                "ContrastiveLoss",
                "supervised_contrastive",
                "two views `(2N, D)` as `features`, `labels=None`, `temperature`",
                "the same NT-Xent objective (SimCLR); not tested against MONAI's numbers",
            ),
            Row(
                "PatchAdversarialLoss",
                "gan_discriminator",
                '`criterion="least_squares"|"hinge"|"bce"` → `kind="least_squares"|"hinge"|"minimax"`',
                "losskit takes logits; least squares with factor ½",
            ),
            Row("GeneralizedWassersteinDiceLoss", None, "", "losskit lacks it"),
            Row("generalized_wasserstein_dice", None, "", "alias of `GeneralizedWassersteinDiceLoss`"),
            Row(
                "AsymmetricUnifiedFocalLoss",
                None,
                "",
                "losskit lacks it; `focal_tversky` plus `focal` with `losskit.combine` is close",
            ),
            Row("HausdorffDTLoss", None, "", "a boundary loss losskit lacks"),
            Row("LogHausdorffDTLoss", None, "", "a boundary loss losskit lacks"),
            Row("BoundaryLoss", None, "", "a boundary loss losskit lacks"),
            Row("SoftclDiceLoss", None, "", "a topology (centreline) loss losskit lacks"),
            Row("SoftDiceclDiceLoss", None, "", "a topology (centreline) loss losskit lacks"),
            Row("MCCLoss", None, "", "Matthews correlation loss: losskit lacks it"),
            Row("NACLLoss", None, "", "a calibration loss losskit lacks"),
            Row("AUCMLoss", None, "", "an AUC-margin loss losskit lacks"),
            Row("BarlowTwinsLoss", None, "", "a self-supervised redundancy-reduction loss losskit lacks"),
            Row(
                "DeepSupervisionLoss",
                None,
                "",
                "a wrapper over several outputs: sum the losses or use `losskit.combine`",
            ),
            Row("MaskedLoss", None, "", "a wrapper that masks any loss: pass `sample_weight=mask` to a losskit loss"),
            Row("MultiScaleLoss", None, "", _OUT_OF_SCOPE_REG),
            Row("BendingEnergyLoss", None, "", _OUT_OF_SCOPE_REG),
            Row("DiffusionLoss", None, "", _OUT_OF_SCOPE_REG),
            Row("GlobalMutualInformationLoss", None, "", _OUT_OF_SCOPE_REG),
            Row("LocalNormalizedCrossCorrelationLoss", None, "", _OUT_OF_SCOPE_REG),
            Row("SSIMLoss", None, "", _IMAGE_QUALITY),
            Row("PerceptualLoss", None, "", _IMAGE_QUALITY + " (needs pretrained networks)"),
            Row("JukeboxLoss", None, "", _IMAGE_QUALITY + " (spectral audio loss)"),
            Row("SURELoss", None, "", _OUT_OF_SCOPE_REG),
        ),
    ),
    Library(
        "pytorch-metric-learning",
        "pytorch-metric-learning",
        "pytorch_metric_learning.losses",
        "pml's losses take `(embeddings, labels)` like losskit's batch losses, plus miners and reducers. losskit "
        "builds the mining into the loss (`batch_triplet`'s `mining=`) and averages over the valid terms; pml's "
        "default reducers average the non-zero terms, so numbers differ where some terms are zero. "
        "`gather=True` replaces pml's `CrossBatchMemory` for the distributed case (the global batch across ranks).",
        (
            Row(
                "TripletMarginLoss",
                "batch_triplet",
                '`margin`; pml\'s miners → `mining="batch_all"|"batch_hard"|"semi_hard"`; `distance=`',
                "losskit's default margin 0.2 (pml: 0.05); semi-hard keeps one negative per positive pair (TF-Addons)",
            ),
            Row("ContrastiveLoss", "contrastive", "`pos_margin`, `neg_margin`", ""),
            Row("CircleLoss", "circle", "`m` → `margin`, `gamma`", "embeddings are normalised"),
            Row(
                "SupConLoss", "supervised_contrastive", "`temperature`", "losskit's default temperature 0.07 (pml: 0.1)"
            ),
            Row(
                "NTXentLoss",
                "info_nce",
                "`temperature`; pairs as `(query, key)`",
                "in-batch negatives; `symmetric=True` is CLIP's",
            ),
            Row(
                "ArcFaceLoss",
                "arcface",
                "`ArcFaceLoss(num_classes, embedding_dim, scale=64.0, margin=0.5)`",
                "margin in radians (pml: degrees, 28.6 ≈ 0.5 rad)",
            ),
            Row("CosFaceLoss", "cosface", "`CosFaceLoss(num_classes, embedding_dim, scale=..., margin=...)`", ""),
            Row("SubCenterArcFaceLoss", None, "", "losskit lacks sub-centres; `arcface` is the single-centre form"),
            Row("SphereFaceLoss", None, "", "losskit lacks it; `arcface` / `cosface` are the additive-margin forms"),
            Row("LargeMarginSoftmaxLoss", None, "", "losskit lacks it; try `arcface`"),
            Row("NormalizedSoftmaxLoss", None, "", "losskit lacks it; `cosface` with `margin=0` is the same form"),
            Row("ProxyAnchorLoss", None, "", "a proxy loss losskit lacks"),
            Row("ProxyNCALoss", None, "", "a proxy loss losskit lacks"),
            Row("SoftTripleLoss", None, "", "a proxy loss losskit lacks"),
            Row("P2SGradLoss", None, "", "losskit lacks it"),
            Row("AngularLoss", None, "", "losskit lacks it"),
            Row("DynamicSoftMarginLoss", None, "", "losskit lacks it"),
            Row("FastAPLoss", None, "", "an average-precision loss losskit lacks"),
            Row("SmoothAPLoss", None, "", "an average-precision loss losskit lacks"),
            Row("GeneralizedLiftedStructureLoss", None, "", "losskit lacks it"),
            Row("LiftedStructureLoss", None, "", "losskit lacks it"),
            Row("HistogramLoss", None, "", "losskit lacks it"),
            Row("InstanceLoss", None, "", "losskit lacks it"),
            Row("IntraPairVarianceLoss", None, "", "losskit lacks it"),
            Row("ManifoldLoss", None, "", "losskit lacks it"),
            Row("MarginLoss", None, "", 'losskit lacks it; `batch_triplet` with `mining="semi_hard"` is the nearest'),
            Row("MultiSimilarityLoss", None, "", "losskit lacks it; `circle` weighs pairs similarly"),
            Row("NCALoss", None, "", "losskit lacks it"),
            Row(
                "NPairsLoss",
                None,
                "",
                "losskit lacks it; `info_nce` with one positive per anchor is the same objective",
            ),
            Row("PNPLoss", None, "", "losskit lacks it"),
            Row("RankedListLoss", None, "", "losskit lacks it"),
            Row("SignalToNoiseRatioContrastiveLoss", None, "", "losskit lacks it"),
            Row("ThresholdConsistentMarginLoss", None, "", "losskit lacks it"),
            Row("TupletMarginLoss", None, "", "losskit lacks it"),
            Row("VICRegLoss", None, "", "a self-supervised variance-invariance-covariance loss losskit lacks"),
            Row("BaseMetricLossFunction", None, "", "pml's base class, not a loss: losskit's is `losskit.Loss`"),
            Row("GenericPairLoss", None, "", "pml's base class for pair losses, not a loss"),
            Row("BaseLossWrapper", None, "", "pml's base class for wrappers, not a loss"),
            Row(
                "CrossBatchMemory",
                None,
                "",
                "a wrapper with a memory queue; for the distributed global batch use `gather=True`",
            ),
            Row("MultipleLosses", None, "", "a weighted sum of losses: `losskit.combine`"),
            Row("SelfSupervisedLoss", None, "", "a wrapper that pairs two views: pass them to `info_nce(query, key)`"),
        ),
    ),
)


def replaced_by(name: str) -> Dict[str, List[str]]:
    """``{library title: [peer losses]}`` that the losskit loss ``name`` replaces (the tables read backwards)."""
    out: Dict[str, List[str]] = {}
    for library in LIBRARIES:
        prefix = "torch.nn." if library.slug == "torch-nn" else ""
        for row in library.rows:
            if row.losskit == name:
                out.setdefault(library.title, []).append(prefix + row.peer)
    return out
