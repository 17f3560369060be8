# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test test-browser bench fuzz lint clean latex-check docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP_RUN) $@

run: $(STAMP_RUN)  ## the lecture network: forward pass, then one training step
	$(BIN)/bpexplain forward lecture
	$(BIN)/bpexplain train lecture --steps 1

test: $(STAMP_TEST)  ## the whole test suite
	$(BIN)/python -m pytest

test-browser: $(STAMP_TEST)  ## the page (--format html) and the SVG picture in headless Chromium; installs Debian's chromium if missing
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "installing chromium (apt-get)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	$(BIN)/python -m pytest tests/test_page_browser.py tests/test_page.py tests/test_svg_browser.py

bench: $(STAMP_TEST)  ## speed and memory, measured side by side
	$(BIN)/python benchmarks/bench.py

fuzz: $(STAMP_TEST)  ## the fuzz tests' long run (thousands of examples; `make test` runs a bounded one)
	BPEXPLAIN_FUZZ=long $(BIN)/python -m pytest tests/test_fuzz.py tests/test_fuzz_cli.py tests/test_fuzz_names.py

latex-check: $(STAMP_RUN)  ## compile the LaTeX answer keys of the bundled networks (needs pdflatex)
	@command -v pdflatex >/dev/null || { echo "pdflatex not found: install TeX (e.g. texlive-latex-base)"; exit 1; }
	@mkdir -p build/latex-check
	@for net in lecture xor classifier homework-cnn; do \
	  $(BIN)/bpexplain train $$net --steps 2 -o build/latex-check/$$net.tex && \
	  (cd build/latex-check && pdflatex -interaction=nonstopmode -halt-on-error $$net.tex >/dev/null) && \
	  echo "build/latex-check/$$net.pdf" || { echo "$$net: see build/latex-check/$$net.log"; exit 1; }; \
	done

DOCS_IMG ?= docs/img
docs: $(STAMP_TEST)  ## the README's pictures in docs/img (tests/test_diagram.py makes them again and checks them)
	@mkdir -p $(DOCS_IMG)
	$(BIN)/bpexplain diagram lecture -o $(DOCS_IMG)/lecture.svg
	$(BIN)/bpexplain diagram lecture --step 1 -o $(DOCS_IMG)/lecture-step1.svg
	$(BIN)/bpexplain diagram homework-cnn -o $(DOCS_IMG)/homework-cnn.svg
	$(BIN)/bpexplain train xor --epochs 2000 --detail summary --plot $(DOCS_IMG)/xor-loss.svg > /dev/null

lint: $(STAMP_TEST)  ## ruff (lint and format) and mypy
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/ruff check bpexplain tests benchmarks
	$(BIN)/ruff format --check bpexplain tests benchmarks
	$(BIN)/mypy bpexplain

clean:
	rm -rf $(VENV) build *.egg-info
