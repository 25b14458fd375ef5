import os

# Keras 3 is a test reference; it must run on the torch backend, set before keras is imported.
os.environ.setdefault("KERAS_BACKEND", "torch")

import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
