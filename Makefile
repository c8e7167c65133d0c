# Set-up commands: `make demo` and `make test` create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint docs install lock clean

# requirements.lock pins the exact versions of every dependency (pip freeze of a tested
# .venv); `make lock` writes it again after a change to pyproject.toml.
$(STAMP): pyproject.toml requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python .ci/check_lock.py
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ecglens predict data/mitdb-demo/213 data/mitdb-demo/232 --model ecglens-mitdb-inter \
		--review-threshold 0.5 --no-table --json runs/demo/predictions.jsonl
	$(BIN)/ecglens explain data/mitdb-demo/213 --beat 0 --beat 219 --beat 223 \
		--model ecglens-mitdb-inter --out runs/demo/explain-213.png
	$(BIN)/ecglens report data/mitdb-demo/213 data/mitdb-demo/232 --model ecglens-mitdb-inter \
		--out runs/demo/report.html

test: $(STAMP)
	$(BIN)/python -m pytest --durations=20

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# the documentation site (mkdocs.yml, docs/); --strict fails on a broken link or anchor
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir runs/site

lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --upgrade -e ".[dev,batch,serve,docs]"
	( echo "# Exact versions \`make\` installs (pip freeze of a tested .venv). Regenerate: make lock"; \
	  $(BIN)/pip freeze --exclude-editable | grep -v "^#" ) > requirements.lock.tmp
	mv requirements.lock.tmp requirements.lock
	$(BIN)/python .ci/check_lock.py

clean:
	rm -rf runs site .pytest_cache .ruff_cache
