"""losskit: the complete, verified, fast loss-function library for PyTorch.

    import losskit as lk
    import losskit.functional as LF

    LF.huber_loss(pred, target, delta=0.5)      # functional
    crit = lk.HuberLoss(delta=0.5)              # nn.Module
    crit = lk.get("huber", delta=0.5)           # by name or alias
    lk.from_config(crit.get_config())           # round trip
"""
from . import functional
from ._core import Loss, available, from_config, get, get_fn, set_validation, validation_enabled
from .classification import (
    CrossEntropyLoss,
    NLLLoss,
    BCELoss,
    BCEWithLogitsLoss,
    BalancedBCEWithLogitsLoss,
    SigmoidFocalLoss,
    SoftmaxFocalLoss,
    Poly1CrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    HingeLoss,
    SquaredHingeLoss,
    CategoricalHingeLoss,
    MultiMarginLoss,
    MultiLabelMarginLoss,
    SoftMarginLoss,
    MultiLabelSoftMarginLoss,
)
from .large_vocab import LinearCrossEntropyLoss
from .distribution import GaussianNLLLoss, JSDivLoss, KLDivLoss, PoissonNLLLoss
from .regression import (
    HuberLoss,
    L1Loss,
    LogCoshLoss,
    MAPELoss,
    MSELoss,
    MSLELoss,
    QuantileLoss,
    RMSELoss,
    SmoothL1Loss,
)

__version__ = "0.1.0"

__all__ = [
    "functional",
    "Loss",
    "get",
    "get_fn",
    "available",
    "from_config",
    "set_validation",
    "validation_enabled",
    # regression
    "L1Loss",
    "MSELoss",
    "RMSELoss",
    "SmoothL1Loss",
    "HuberLoss",
    "LogCoshLoss",
    "MAPELoss",
    "MSLELoss",
    "QuantileLoss",
    # distribution
    "KLDivLoss",
    "JSDivLoss",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    # large vocabulary
    "LinearCrossEntropyLoss",
    # classification
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BalancedBCEWithLogitsLoss",
    "SigmoidFocalLoss",
    "SoftmaxFocalLoss",
    "Poly1CrossEntropyLoss",
    "GeneralizedCrossEntropyLoss",
    "HingeLoss",
    "SquaredHingeLoss",
    "CategoricalHingeLoss",
    "MultiMarginLoss",
    "MultiLabelMarginLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
]
