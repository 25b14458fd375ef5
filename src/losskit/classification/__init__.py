"""Classification losses.

Layout follows torch: scores ``(N, C)``, ``(N, C, d1, ..., dk)`` or unbatched
``(C,)``; class-index targets ``(N)`` / ``(N, d1, ..., dk)`` / ``()`` of an
integer dtype; probability targets are floating and have the input's shape.
Losses over class scores take logits (``binary_cross_entropy`` is the one that
takes probabilities, for parity with torch).

Where torch has the loss, losskit calls torch's kernel and gives torch's
numbers, with these deliberate differences (see the README, "coming from
torch.nn"):

* ``"mean"`` with every target ignored, or of an empty batch, is 0 with zero
  gradients (torch: NaN);
* float class-index targets raise ``TypeError``; out-of-range classes raise
  ``ValueError`` naming the class and the valid range (torch: an IndexError
  or a device assert); a class ``weight`` of the wrong length raises;
* float16/bfloat16 scores are computed in float32 and the loss is float32.
"""

from . import cross_entropy, focal, long_tail, margin  # noqa: F401  (importing a file declares its losses)
