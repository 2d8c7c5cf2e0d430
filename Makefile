# Two commands do everything (README): `make book` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.partreid-installed

.PHONY: book test test-fast clean-book publish publish-html

# `make publish`: the built HTML goes to the gh-pages branch of GHP_REMOTE (GitHub Pages serves that branch).
HTML ?= book/_build/html
GHP_REMOTE ?= origin
GHP_IMPORT ?= $(VENV)/bin/ghp-import

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build book/ $(JB_FLAGS)
	@echo "Open the book: file://$(CURDIR)/book/_build/html/index.html"

publish: book
	$(MAKE) publish-html

# push an already built book; --no-jekyll keeps GitHub Pages from hiding _static/ and _sources/, --no-history
# keeps one commit on gh-pages (each build replaces the last)
publish-html:
	test -f $(HTML)/index.html || { echo "no built book at $(HTML): run make book"; exit 1; }
	$(GHP_IMPORT) --no-jekyll --no-history --push --force --remote $(GHP_REMOTE) --branch gh-pages \
	  --message "Book built from $$(git rev-parse --short HEAD)" $(HTML)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_FLAGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not heavy" $(PYTEST_FLAGS)

clean-book:
	rm -rf book/_build
