# Tenantry developer entry points. Everything runs from local venvs; nothing needs Docker.
#   make run       serve the API on 127.0.0.1:$${PORT:-3000} with AWS emulated in process
#                  (its venv has the CLI: .venv/bin/tenantry, see docs/cli.md)
#   make invoke    FUNCTION=<LogicalId> EVENT=events/<group>/<Name>.json: one function, one
#                  event, as `sam local invoke` runs it (result on stdout, logs on stderr)
#   make moto      template.yaml in a moto server on :5000, seeded, for `sam local invoke`
#                  (Docker) with --env-vars local/env.json (see samconfig.toml)
#   make test      lint + sam validate --lint + checkov + the agent's tests + pytest (what CI
#                  runs via .ci/run)
#   make deploy-console  console/ to the deployed stack's bucket, then a CloudFront invalidation

PYTHON_BOOT := $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV        := .venv
VENV_SAM    := .venv-sam
PY          := $(VENV)/bin/python
SAM         := AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam
SAM_VERSION := 1.170.0
VENV_CHECKOV := .venv-checkov
CHECKOV_VERSION := 3.3.30
SRC         := layers functions local tests bench statemachines agent cli
AGENT_VENV  := agent/.venv
AGENT_PY    := $(AGENT_VENV)/bin/python
# Two workers (pytest-xdist): the suite is dominated by subprocess runners (fuzzing gate,
# README walk-through) and emulated stacks; measured 2 min 12 s on 2 cores with -n 2.
PYTEST_ARGS ?= -n 2

.PHONY: venv venv-sam venv-checkov venv-runtime agent-venv agent-test chromium deploy-console run invoke moto env-json asl test pytest lint format validate checkov build bench openapi clean

# --- environments ------------------------------------------------------------------------
# The stamp is rebuilt (and pip re-run) only when the venv is missing or a requirements
# file changed. The SAM CLI pins conflict with ours, so it lives in its own venv.
# The CLI (cli/, console command `tenantry`) is installed editable into it, with its pinned
# dependencies (websockets is the only one the dev requirements lack).
venv: $(VENV)/.stamp
$(VENV)/.stamp: requirements-dev.txt layers/core/requirements.txt cli/pyproject.toml
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e cli
	touch $@

venv-sam: $(VENV_SAM)/.stamp
$(VENV_SAM)/.stamp:
	test -x $(VENV_SAM)/bin/python || $(PYTHON_BOOT) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/python -m pip install -q aws-sam-cli==$(SAM_VERSION)
	touch $@

# checkov's pins conflict with ours too. The stamp names the version: a new pin reinstalls.
venv-checkov: $(VENV_CHECKOV)/.stamp-$(CHECKOV_VERSION)
$(VENV_CHECKOV)/.stamp-$(CHECKOV_VERSION):
	test -x $(VENV_CHECKOV)/bin/python || $(PYTHON_BOOT) -m venv $(VENV_CHECKOV)
	$(VENV_CHECKOV)/bin/python -m pip install -q checkov==$(CHECKOV_VERSION)
	rm -f $(VENV_CHECKOV)/.stamp-*
	touch $@

# The cluster agent (agent/, console command tenantry-agent) is its own package with its own
# pins (the kubernetes client needs a newer pydantic than the layer's), so its own venv.
agent-venv: $(AGENT_VENV)/.stamp
$(AGENT_VENV)/.stamp: agent/requirements.txt agent/requirements-dev.txt agent/pyproject.toml
	test -x $(AGENT_PY) || $(PYTHON_BOOT) -m venv $(AGENT_VENV)
	$(AGENT_PY) -m pip install -q -r agent/requirements-dev.txt
	$(AGENT_PY) -m pip install -q --no-deps -e agent
	touch $@

# The console's browser tests (tests/browser) drive Debian's chromium through Playwright
# (its own browser download cannot work here). Installed when missing: root runs apt-get,
# anyone else gets sudo's.
CHROMIUM := /usr/bin/chromium
chromium: $(CHROMIUM)
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium

# --- run ---------------------------------------------------------------------------------
# LOCAL_AGENT=1 also needs the agent's venv: the runner starts a dry-run agent from it.
run: venv $(if $(filter 1,$(LOCAL_AGENT)),agent-venv)
	$(PY) -m local.runner

# FUNCTION may be left out for a file of events/ (each names its function).
invoke: venv
	@test -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId> EVENT=events/<group>/<Name>.json" >&2; exit 2; }
	@$(PY) -m local.invoke $(FUNCTION) -e $(EVENT)

# SEED=creating|deleting seeds project demo as a workflow's steps find it (default active).
moto: venv
	$(PY) -m local.moto_server

# local/env.json: each function's environment for sam local, generated from template.yaml.
env-json: venv
	$(PY) -m local.env_json

bench: venv venv-runtime
	$(PY) -m bench

venv-runtime: .venv-runtime/.stamp
.venv-runtime/.stamp: layers/core/requirements.txt
	rm -rf .venv-runtime
	$(PYTHON_BOOT) -m venv .venv-runtime
	.venv-runtime/bin/python -m pip install -q -r layers/core/requirements.txt
	touch $@

# statemachines/asl.py writes the workflows' ASL (one shared Retry/Catch policy); a test compares.
asl: venv
	$(PY) -m statemachines.asl

# local/openapi.py writes openapi.json from the code (owned by the application side).
openapi: venv
	$(PY) -m local.openapi

# --- checks ------------------------------------------------------------------------------
test: venv venv-sam venv-checkov agent-venv chromium
	$(MAKE) lint
	$(MAKE) validate
	$(MAKE) checkov
	$(MAKE) agent-test
	$(MAKE) pytest

pytest: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# agent/tests: fake Tenantry and Kubernetes APIs on 127.0.0.1, the real client code paths.
agent-test: agent-venv
	cd agent && .venv/bin/python -m pytest $(AGENT_PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check $(SRC)
	$(VENV)/bin/ruff format --check $(SRC)

format: venv
	$(VENV)/bin/ruff check --fix $(SRC)
	$(VENV)/bin/ruff format $(SRC)

validate: venv-sam
	$(SAM) validate --lint

# checkov's CloudFormation checks on template.yaml; fails on any failed check. A check that
# does not fit this product is skipped in the template (resource Metadata) with its reason.
# --skip-download: no calls to the vendor's API (offline, and nothing leaves the machine).
checkov: venv-checkov
	$(VENV_CHECKOV)/bin/checkov --file template.yaml --framework cloudformation \
		--quiet --compact --skip-download

build: venv-sam
	$(SAM) build

# The web console (console/) to the stack's ConsoleBucket under console/, then the
# distribution's cached copies invalidated. Needs the AWS CLI and credentials;
# STACK is the stack's name (samconfig.toml's stack_name by default).
STACK ?= tenantry
deploy-console:
	@output() { aws cloudformation describe-stacks --stack-name "$(STACK)" \
	  --query "Stacks[0].Outputs[?OutputKey=='$$1'].OutputValue" --output text; }; \
	bucket=$$(output ConsoleBucketName) && dist=$$(output ConsoleDistributionId) && \
	test -n "$$bucket" -a "$$bucket" != None || { echo "no ConsoleBucketName output on stack $(STACK)" >&2; exit 1; }; \
	aws s3 sync console/ "s3://$$bucket/console/" --delete --exclude '*.md' && \
	aws cloudfront create-invalidation --distribution-id "$$dist" --paths '/console' '/console/*' >/dev/null && \
	echo "console deployed: $$(output ConsoleUrl)"

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
