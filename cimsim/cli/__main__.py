"""``python -m cimsim.cli``."""

from cimsim.cli import main

main()
