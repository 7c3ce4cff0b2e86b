# Chatham: `make demo` runs a real group session end to end; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all install test lint typecheck pytest demo bench vectors screenshots clean

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[server,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy sees the three folders under their installed names through a tree of symlinks,
# so `import chatham.crypto` in server/ and client/ resolves to the source being checked.
typecheck: $(STAMP)
	mkdir -p .typecheck/chatham
	for p in crypto server client; do ln -sfn ../../$$p .typecheck/chatham/$$p; done
	$(BIN)/mypy -p chatham.crypto -p chatham.server -p chatham.client

# The wheel members install (`pipx install dist/chatham-*.whl`; the server adds `[server]`).
# A build warning (a deprecated setting, say) fails it; tests/e2e/test_client_wheel.py
# installs it into a clean virtual environment and runs a member's month against a server.
wheels: $(STAMP)
	rm -rf dist && mkdir dist
	$(BIN)/python -m pip wheel --verbose --no-deps --wheel-dir dist . > dist/build.log 2>&1 \
		|| (cat dist/build.log; false)
	! grep -E "Warning:|deprecated" dist/build.log

pytest: $(STAMP)
	CHATHAM_WHEELS=dist $(BIN)/python -m pytest

test: lint typecheck wheels pytest

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python bench/crypto_bench.py

# The web app's screenshots in docs/images/, taken by the browser test's meeting cycle.
screenshots: $(STAMP)
	CHATHAM_WEB_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/web/test_web_e2e.py -k cycle

vectors: $(STAMP)
	$(BIN)/python scripts/make_vectors.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
