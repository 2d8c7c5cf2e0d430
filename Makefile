# Two commands do everything (README): `make book` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.partreid-installed

.PHONY: book test test-fast clean-book

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build book/ $(JB_FLAGS)
	@echo "Open the book: file://$(CURDIR)/book/_build/html/index.html"

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not heavy" $(PYTEST_FLAGS)

clean-book:
	rm -rf book/_build
