"""``python -m lrlab`` runs the command line."""

from lrlab.cli import console

console()
