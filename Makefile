# Two commands do everything: `make run` and `make test` (README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest jstest bench clean

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

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
