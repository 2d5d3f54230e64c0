# `make run` and `make test` are all a fresh clone needs (plus Python >= 3.11).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# The suite runs in this many processes (pytest-xdist), each on its own database. Most tests wait
# on servers, workers and browsers, so three keep two cores busy; PYTEST_WORKERS=0 runs in one.
PYTEST_WORKERS ?= 3

.PHONY: run test lint bench soak fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/python -m crm migrate
	$(BIN)/python -m crm apikey bootstrap
	$(BIN)/python -m crm serve

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# ruff, then the import contracts in setup.cfg (layers, the write model's isolation, no cycles).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check crm tests $(wildcard bench tools)
	$(BIN)/ruff format --check crm tests $(wildcard bench tools)
	$(BIN)/lint-imports --no-cache

# The workload against the full stack and the inline setup on PostgreSQL and Redis, beside
# physical references; rewrites the `make bench` section of docs/benchmarks.md (bench/run.py).
BENCH_ARGS ?=
bench: $(VENV)/.installed-run
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# A 30-minute mixed load at half of the measured capacity on the full stack (PostgreSQL, Redis),
# RSS, errors and p99 sampled each minute; rewrites the `make soak` section of docs/reliability.md.
SOAK_ARGS ?=
soak: $(VENV)/.installed-run
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

# The API against its OpenAPI document: schemathesis, every check and the stateful phase, against a
# `crm serve` that tools/fuzz.py starts (on a temporary SQLite database, or DATABASE_URL's) and
# stops; what no schema can state is in schemathesis.toml. CI runs a bounded version (.ci/run).
FUZZ_ARGS ?= --max-time 600
fuzz: $(VENV)/.installed-test
	$(BIN)/python tools/fuzz.py $(FUZZ_ARGS)

# Mutation testing of the write model and the workers, outside CI and `make test`: mutmut with the
# [mutmut] section of setup.cfg, the unit and application tiers on SQLite against each mutant;
# results stay in mutants/ (rm -rf mutants for a fresh run). Prints the mutants no test killed.
# `$(BIN)/mutmut show NAME` shows one; docs/development.md#mutation-testing lists and explains them.
.PHONY: mutate
MUTATE_ARGS ?=
mutate: $(VENV)/.installed-mutate
	env -u DATABASE_URL -u CRM_REQUIRE_POSTGRES $(BIN)/mutmut run $(MUTATE_ARGS)
	$(BIN)/mutmut results

$(VENV)/.installed-mutate: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,mutate]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
