"""The family files, imported once so that their declarations register every loss.

This is the one list of files (not of losses) in the package: a new family
file is added here; a new loss in an existing family needs nothing here.
"""

from . import (
    adversarial,
    classification,
    detection,
    distribution,
    embedding,
    large_vocab,
    regression,
    segmentation,
    sequence,
)

FAMILY_MODULES = (
    regression,
    distribution,
    classification,
    large_vocab,
    sequence,
    adversarial,
    segmentation,
    detection,
    embedding,
)
