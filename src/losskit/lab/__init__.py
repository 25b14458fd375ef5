"""The loss lab behind ``losskit compare``: bundled datasets, small models, training, and the report."""

from .compare import CompareResult, LossSpec, parse_loss_specs, run_compare
from .tasks import TASKS, Task

__all__ = ["CompareResult", "LossSpec", "parse_loss_specs", "run_compare", "TASKS", "Task"]
