PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch from the local wheel cache first, so nothing pulls a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[ml,dev]'
	touch $(STAMP)

run: setup
	$(BIN)/xcurate run configs/quickstart.yaml -o out/quickstart --overwrite

test: setup
	# Two workers, one test file each (module fixtures stay in one process; each worker has its own embedded Ray).
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

clean:
	rm -rf out
