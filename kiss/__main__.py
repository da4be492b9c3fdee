"""``python -m kiss`` is the ``kiss`` command."""

from kiss.cli import main

main()
