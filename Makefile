# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ZOO_DATA ?= $(abspath ../shared/data)

.PHONY: demo test clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
# torch first and pinned: these releases lie on the build machines' disk (no multi-GB download)
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
# setuptools warns about any editable install with a package-dir map (plugins/ installs as zoo_plugins);
# it is advice, not a problem, and its box of asterisks looked like a failure on first use
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/zoo sample dcgan.mnist64 -n 32 --nrow 8 --seed 0 --out out/dcgan-mnist64.png

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) out .pytest_cache
