"""``python -m training`` runs the ``specs-train`` command line."""

from training.cli import main

main()
