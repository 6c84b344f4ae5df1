# Two entry points for a fresh machine; each builds its own virtual environment first.
#   make demo   the main job (see README)
#   make test   the test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.greenauto-installed

.PHONY: demo test install lint bench clean browser sanitize postgres

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Rebuilds the extension (incrementally, in build/) whenever a source file changed.
$(STAMP): $(PY) pyproject.toml CMakeLists.txt $(wildcard src/*.cpp src/*.hpp datasets/*) $(shell find greenauto -type f -not -path '*/__pycache__/*')
	$(PY) -m pip install --quiet ".[test,dev,onnx]"
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

# The compiled kernels under AddressSanitizer + UndefinedBehaviorSanitizer: a separate build of
# the extension (build/sanitize, nothing replaced in $(VENV)) runs the kernel, model-file and
# compile tests, the hostile files and the Hypothesis fuzz (tests/compiled/test_fuzz.py: random
# trees, random rows, random corrupt model arrays) and the table encoder's text-to-code
# kernels (Python strings and Arrow buffers) included. .ci/run runs it. The Python host is not instrumented, so libasan is
# preloaded; detect_leaks=0 because CPython's own allocations at exit are not ours to judge.
# Any ASan or UBSan report fails the run (halt_on_error).
SAN_DIR   = build/sanitize
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -g -O1
SAN_ENV   = LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONPATH=$(SAN_DIR)/site
sanitize: $(STAMP)
	$(PY) -m pip install --quiet --no-deps --target $(SAN_DIR)/site \
	  --upgrade -C build-dir=$(SAN_DIR)/cmake -C cmake.build-type=RelWithDebInfo \
	  -C "cmake.define.CMAKE_CXX_FLAGS=$(SAN_FLAGS)" \
	  -C "cmake.define.CMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" .
	$(SAN_ENV) $(PY) -P -c "import greenauto._kernels as k; \
	  assert '$(SAN_DIR)' in k.__file__, k.__file__; print('sanitized build:', k.__file__)"
	$(SAN_ENV) $(VENV)/bin/pytest -q -p no:cacheprovider \
	  tests/compiled tests/artifact tests/test_binning_kernel.py tests/test_tabular_encoder.py

clean:
	rm -rf build $(VENV) .pytest_cache .hypothesis
