"""The loss lab behind ``losskit compare``: tasks, small models, training, statistics and the report.

From Python: ``run_compare(task, losses, seeds=...)`` with a bundled task's name or a :class:`Task` of your own
(:func:`task_from_arrays`); the result's ``summary()``, ``verdict()`` and ``analysis()`` give the statistics.
"""

from .compare import CompareResult, LabError, LossSpec, parse_loss_specs, run_compare
from .tasks import TASKS, Task, task_from_arrays

__all__ = [
    "CompareResult",
    "LabError",
    "LossSpec",
    "parse_loss_specs",
    "run_compare",
    "TASKS",
    "Task",
    "task_from_arrays",
]
