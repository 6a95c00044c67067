"""``python -m specs_eval`` runs the CLI (same as the ``specs-eval`` script)."""

from specs_eval.cli import main

main()
