"""``python -m cimsim``: the same as the ``cimsim`` command."""

from cimsim.cli import main

main()
