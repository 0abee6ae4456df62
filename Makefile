# The same commands CI runs (see scripts/). `make help` lists them.
.PHONY: help setup demo test test-fast lint bench soak runner-demo screenshots

help:
	@echo "make demo        set up, then run JupyterHub + Podium + example dashboards on :8000"
	@echo "make setup       install the frameworks, Podium and the test tools into .venv"
	@echo "make test        lint, types and the whole test suite (what CI runs)"
	@echo "make test-fast   the same without the slow framework tests"
	@echo "make bench       Podium against its peers (python -m bench; results in bench/RESULTS.md)"
	@echo "make soak        200 viewers, 20 dashboards, runner kills, a gateway restart (3 min)"
	@echo "make runner-demo start one Streamlit dashboard through podium-runner"
	@echo "make screenshots take the README's screenshots again (the browser tests)"

setup:
	scripts/setup

demo:
	scripts/demo

test:
	scripts/test

test-fast:
	scripts/test --fast

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench: setup
	.venv/bin/python -m bench

soak: setup
	.venv/bin/python -m bench.soak

runner-demo: setup
	scripts/runner-demo

screenshots: setup
	PODIUM_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest -q tests/web
