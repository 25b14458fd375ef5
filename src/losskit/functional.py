"""Every losskit functional, in one namespace (like ``torch.nn.functional``).

    import losskit.functional as LF
    LF.huber_loss(pred, target, delta=0.5)
"""
from .classification import (
    cross_entropy,
    nll_loss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    balanced_binary_cross_entropy_with_logits,
    sigmoid_focal_loss,
    softmax_focal_loss,
    poly1_cross_entropy,
    generalized_cross_entropy,
    hinge_loss,
    squared_hinge_loss,
    categorical_hinge_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    soft_margin_loss,
    multilabel_soft_margin_loss,
)
from .large_vocab import linear_cross_entropy
from .distribution import gaussian_nll_loss, js_div, kl_div, poisson_nll_loss
from .regression import (
    huber_loss,
    l1_loss,
    log_cosh_loss,
    mape_loss,
    mse_loss,
    msle_loss,
    quantile_loss,
    rmse_loss,
    smooth_l1_loss,
)

__all__ = [
    "l1_loss",
    "mse_loss",
    "rmse_loss",
    "smooth_l1_loss",
    "huber_loss",
    "log_cosh_loss",
    "mape_loss",
    "msle_loss",
    "quantile_loss",
    "kl_div",
    "js_div",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "linear_cross_entropy",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "balanced_binary_cross_entropy_with_logits",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
    "poly1_cross_entropy",
    "generalized_cross_entropy",
    "hinge_loss",
    "squared_hinge_loss",
    "categorical_hinge_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
]
