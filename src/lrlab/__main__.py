"""``python -m lrlab`` runs the command line."""

from lrlab.cli import main

raise SystemExit(main())
