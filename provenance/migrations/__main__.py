"""``python -m provenance.migrations revision MESSAGE``: write the next revision (see provenance.migrate)."""

from provenance.migrate import main

main()
