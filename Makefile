# bertlab: `make lab` opens the series, `make test` runs every test and notebook.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The shared datasets beside the repository, when they are there (CI has them).
BERTLAB_DATA ?= $(abspath $(wildcard ../shared/data))
export BERTLAB_DATA

.PHONY: setup lab test machine test-unit test-notebooks test-browser lint format notebooks env clean browser book

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m bertlab.env --quiet
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers often are root.
lab: setup
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# The machine first (a failure on another CPU reads from the log), then lint, unit and parity
# tests, every notebook under nbval, and the browser tests.
test: setup machine lint test-unit test-notebooks test-browser

machine: setup
	$(BIN)/python tools/machine_info.py

lint: setup
	$(BIN)/ruff check bertlab tests benchmarks notebooks solutions tools book
	$(BIN)/ruff format --check bertlab tests benchmarks notebooks solutions tools book

format: setup
	$(BIN)/ruff check --fix bertlab tests benchmarks notebooks solutions tools book
	$(BIN)/ruff format bertlab tests benchmarks notebooks solutions tools book

test-unit: setup
	MPLBACKEND=Agg $(BIN)/pytest -m "not browser" tests

NBVAL := --nbval --nbval-current-env --nbval-cell-timeout=900 --nbval-sanitize-with tests/nbval_sanitize.cfg
test-notebooks: setup
	env -u MPLBACKEND $(BIN)/pytest $(NBVAL) --junitxml=artifacts/nbval.xml notebooks solutions
	$(BIN)/python tools/notebook_times.py artifacts/nbval.xml

# Headless Chromium from Debian's packages renders the attention views.
browser:
	@test -x /usr/bin/chromium || { echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || { echo "could not install chromium: run 'sudo apt-get install chromium'"; exit 1; }; }

test-browser: setup browser
	$(BIN)/pytest -m browser tests

# Re-execute every notebook in place so the committed outputs come from a real run.
notebooks: setup
	env -u MPLBACKEND $(BIN)/python tools/run_notebooks.py notebooks/*.ipynb solutions/*.ipynb

# The series as a static web site in build/book/ (open build/book/index.html): every notebook with
# its committed outputs, nothing executed, nothing loaded from the internet (book/build.py).
book: setup
	$(BIN)/python book/build.py

env: setup
	$(BIN)/python -m bertlab.env

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
