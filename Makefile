# Two entry points for a fresh machine; each builds its own virtual environment first.
#   make demo   the main job (see README)
#   make test   the test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.greenauto-installed

.PHONY: demo test install lint bench clean browser postgres

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Rebuilds the extension (incrementally, in build/) whenever a source file changed.
$(STAMP): $(PY) pyproject.toml CMakeLists.txt $(wildcard src/*.cpp src/*.hpp datasets/*) $(shell find greenauto -type f -not -path '*/__pycache__/*')
	$(PY) -m pip install --quiet ".[test,dev]"
	touch $(STAMP)

install: $(STAMP)

# A 60 s search on the bundled spambase dataset; writes report.html and report.md. CO2 uses
# codecarbon's offline grid data for France: pass your own country with --country.
demo: $(STAMP)
	$(VENV)/bin/greenauto fit spambase --time-budget 60 --country FRA --seed 0 \
	  --report report.html --report report.md

# The HTML report tests open the report in Debian's headless Chromium (root installs it).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# A PostgreSQL server on localhost for the storage tests (root: installs Debian's package);
# without one, `make test` skips the PostgreSQL part and says so (CI never skips it).
postgres:
	bash .ci/postgres.sh

test: $(STAMP) browser
	$(VENV)/bin/pytest

# ruff (SLF001 included: packages talk through public names) and the import-linter layer
# contracts of pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check greenauto tests benchmarks examples
	$(VENV)/bin/ruff format --check greenauto tests benchmarks examples
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) benchmarks/bench_binning.py

clean:
	rm -rf build $(VENV) .pytest_cache .hypothesis
