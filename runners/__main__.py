"""Entry point for ``python -m runners``."""

from runners.main import main

raise SystemExit(main())
