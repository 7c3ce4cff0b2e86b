# Chatham: `make demo` runs a real group session end to end; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all install test lint typecheck pytest demo bench vectors screenshots clean lock \
	mutation mutation-quick

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every package comes from the hashed lock (requirements/ci.txt, docs/dependencies.md): pip
# refuses any file whose hash differs, and `pip check` fails when pyproject.toml asks for
# something the lock does not hold (run `make lock`). Only chatham itself is built from here.
LOCK := requirements/ci.txt

$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
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
	$(BIN)/python -m pip wheel --verbose --no-deps --no-build-isolation --wheel-dir dist . \
		> dist/build.log 2>&1 \
		|| (cat dist/build.log; false)
	! grep -E "Warning:|deprecated" dist/build.log

pytest: $(STAMP)
	CHATHAM_WHEELS=dist $(BIN)/python -m pytest

test: lint typecheck wheels pytest mutation-quick

# Mutation testing of the verification paths (docs/testing.md, scripts/mutation.py): every
# target module, each guard mutant against the module's tests; survivors printed with file:line.
# One mutant at a time unless MUTATION_JOBS says more (CI has the machine to itself: two).
MUTATION_JOBS ?= $(if $(CI),2,1)

mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py -j $(MUTATION_JOBS)

# The bounded run `make test` includes: every guard of the sync engine disabled in turn, on its
# fastest tests; one that no test notices fails the build.
mutation-quick: $(STAMP)
	$(BIN)/python scripts/mutation.py --quick -j $(MUTATION_JOBS)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python bench/crypto_bench.py

# The web app's screenshots in docs/images/, taken by the browser test's meeting cycle.
screenshots: $(STAMP)
	CHATHAM_WEB_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/web/test_web_e2e.py -k cycle

# Re-resolve the hashed locks from pyproject.toml with uv (itself installed from a hashed
# pin); docs/dependencies.md says when and how to review the result.
UV := $(VENV)/uv/bin/uv
UV_COMPILE := $(UV) pip compile --universal --python-version 3.11 --generate-hashes --quiet \
	--upgrade --custom-compile-command "make lock"

lock: $(BIN)/python
	test -x $(UV) || ($(PYTHON) -m venv $(VENV)/uv \
		&& $(VENV)/uv/bin/python -m pip install --quiet --require-hashes -r requirements/uv.txt)
	$(UV_COMPILE) pyproject.toml requirements/build.in --extra server --extra dev -o requirements/ci.txt
	$(UV_COMPILE) pyproject.toml --extra server -c requirements/ci.txt -o requirements/server.txt
	$(UV_COMPILE) pyproject.toml -c requirements/ci.txt -o requirements/client.txt

vectors: $(STAMP)
	$(BIN)/python scripts/make_vectors.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
