"""``python -m losskit`` runs the losskit command."""

from .cli import main

main()
