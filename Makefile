# Two commands do everything: `make run` and `make test` (README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest jstest bench clean lock

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/checkout migrate
	$(BIN)/checkout seed
	exec $(BIN)/checkout serve

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

# The storefront SDK's unit tests (node --test); skipped, saying so, where node is absent.
jstest:
	@if command -v node >/dev/null 2>&1; then \
		cd sdk-js-stub && node --test; \
	else \
		echo "jstest: SKIPPED, node is not installed (the SDK's tests need Node >= 18)"; \
	fi

test: lint typecheck jstest pytest

bench: install
	$(BIN)/python -m bench

# requirements.lock (the Dockerfile's dependencies): the runtime dependencies of
# pyproject.toml, resolved in a scratch venv at the versions installed in .venv.
lock: install
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	$(BIN)/pip freeze --exclude-editable > .lock-venv/constraints.txt
	.lock-venv/bin/pip install --quiet -c .lock-venv/constraints.txt .
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze --exclude headless-checkout; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
