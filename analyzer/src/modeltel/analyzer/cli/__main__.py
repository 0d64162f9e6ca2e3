"""``python -m modeltel.analyzer.cli`` runs the ``modeltel`` command."""

import sys

from modeltel.analyzer.cli import main

sys.exit(main())
