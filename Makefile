# Two commands set everything up on a fresh Debian machine with Python 3.11:
#   make demo   - the whole stack in simulation on the local backend
#   make test   - the test suite (what CI runs)
# Both create .venv on first use; later runs reuse it (re-installed only when setup.py changes).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXTRAS ?= sim,train,server,dev
STAMP  := $(VENV)/.installed-$(shell echo $(EXTRAS) | tr ',' '-')

export MUJOCO_GL ?= egl
export HF_HUB_OFFLINE = 1

.PHONY: demo test lint bench clean

$(STAMP): setup.py package.xml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/vla-ros demo --out out/demo

test: $(STAMP)
	$(PY) -m pytest -q test

lint: $(STAMP)
	$(VENV)/bin/ruff check vla_ros test bench scripts

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) out build *.egg-info
