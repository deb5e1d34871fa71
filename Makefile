# djag: `make demo` runs the sample site, `make test` runs the tests.
# Everything they need is installed into .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DJAG_TEST_DB ?= sqlite
PYTEST_ARGS ?=
BENCH_ARGS ?= --sizes 1000,10000 --db sqlite --broker memory --repeat 3 --out var/bench

.PHONY: demo test test-django42 lint docs bench clean install screenshots

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,demo]"
	touch $(STAMP)

install: $(STAMP)

# The mysql driver compiles against libmariadb-dev; only install it when asked for.
ifeq ($(DJAG_TEST_DB),mysql)
MYSQL_DRIVER := $(VENV)/.mysql
$(MYSQL_DRIVER): $(STAMP)
	$(BIN)/pip install -q -e ".[mysql]"
	touch $(MYSQL_DRIVER)
endif

test: $(STAMP) $(MYSQL_DRIVER)
	DJAG_TEST_DB=$(DJAG_TEST_DB) $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir var/site

demo: $(STAMP)
	$(BIN)/python -m sample_site.run_demo

# Benchmarks against django-celery-beat and celery-redbeat (docs/performance.md).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var build *.egg-info

# Django 4.2 LTS: the same suite on SQLite in a second virtualenv.
DJ42_VENV := .venv-django42
$(DJ42_VENV)/.installed: setup.cfg pyproject.toml
	test -x $(DJ42_VENV)/bin/python || $(PYTHON) -m venv $(DJ42_VENV)
	$(DJ42_VENV)/bin/pip install -q --upgrade pip
	$(DJ42_VENV)/bin/pip install -q -e ".[dev,demo]" "Django>=4.2,<5.0"
	touch $@

test-django42: $(DJ42_VENV)/.installed
	DJAG_TEST_DB=sqlite $(DJ42_VENV)/bin/pytest $(PYTEST_ARGS)

# The admin screenshots of docs/admin.md, taken by the browser tests at 1280 px.
screenshots: $(STAMP)
	DJAG_SCREENSHOT_DIR=docs/img $(BIN)/pytest tests/browser -m browser -p no:cacheprovider -q
