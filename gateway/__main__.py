"""``python -m gateway``: the ``podium`` command (the supervisor starts its gateway so)."""

from gateway.app import main

raise SystemExit(main())
