import os

# Keras 3 is a test reference; it must run on the torch backend, set before keras is imported.
os.environ.setdefault("KERAS_BACKEND", "torch")

import torch


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no sched_getaffinity outside Linux
        return max(1, os.cpu_count() or 1)


def torch_threads_per_worker() -> int:
    """The cores divided among pytest-xdist workers, at least one each.

    Every xdist worker is a process with torch's full default thread pool; on 2 cores `pytest -n 2` would run
    4 spinning OpenMP threads, and small ops then wait on the scheduler (several times slower, not faster).
    Outside xdist the one process gets every core.
    """
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1))
    return max(1, available_cores() // workers)


torch.set_num_threads(torch_threads_per_worker())
