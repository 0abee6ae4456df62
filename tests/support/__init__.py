"""What tests and benchmarks share, and nothing that is itself a test: a real hub stack
(``hubstack``, ``stacks``: one fixture factory), API flows, free ports, PostgreSQL,
a git server, local accounts, a runner harness and its exchanges, and the browser.
``bench/`` imports from here (and from ``tests/kubesim``, the simulated cluster), never
from a test module; no test module imports another (``tests/test_structure.py``)."""
