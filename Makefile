# Two commands: `make run` starts the whole system locally; `make test` runs the whole test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The browser the console's tests drive: Debian's package, installed by `make test` when missing.
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint bench bench-catalog bench-feed fuzz package clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# apt-get as root (CI), else through sudo; Playwright drives this binary (tests/browser), it downloads no browser.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; \
	else echo "installing chromium needs root or sudo: apt-get install chromium" >&2; exit 1; fi; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

run: $(STAMP)
	$(PY) -m devstack

test: $(STAMP) $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	# E3001: the template's Type-less entries are patches merged into Chalice's resources (see its header).
	$(VENV)/bin/cfn-lint --ignore-checks E3001 -- infra/resources.yaml

bench: $(STAMP)
	$(PY) -m benchmarks

# Search, autocomplete, direct orders on one hot sku and the index lag, on 10,000 products (a few minutes).
bench-catalog: $(STAMP)
	$(PY) -m benchmarks.catalog

# The change feed: long-poll wake-up after a commit, catch-up speed, racing writers (a minute).
bench-feed: $(STAMP)
	$(PY) -m benchmarks.feed

# The nightly-size fuzz (make test runs short ones): hostile input to every route, and Schemathesis over every
# operation of the OpenAPI document.
fuzz: $(STAMP)
	OMNIMAN_FUZZ_EXAMPLES=4000 OMNIMAN_CONTRACT_EXAMPLES=200 $(PY) -m pytest -q \
		tests/integration/test_fuzz.py tests/integration/test_contract_fuzz.py

package: $(STAMP)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $${STAGE:-dev} \
		--merge-template infra/resources.yaml build/$${STAGE:-dev}
	$(PY) -m infra.finalize build/$${STAGE:-dev}

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
