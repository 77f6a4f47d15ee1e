# Veil: `make up` (appliance + demo data), `make test` (test suite on a real Neo4j), `make down`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
API_URL := http://127.0.0.1:8000
TEST_PORT ?= 7688
TEST_NEO4J_URI := bolt://127.0.0.1:$(TEST_PORT)

WEB_SDK := deploy/web-sdk
WEB_SDK_STAMP := $(WEB_SDK)/node_modules/.installed

.PHONY: up down test test-kafka venv web-sdk neo4j-fetch api-start api-stop lint bench status clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# The browser tracking libraries Veil serves to websites (analytics.js, RudderStack JS), from npm,
# pinned by deploy/web-sdk/package-lock.json. Once installed, nothing is fetched at run time.
web-sdk: $(WEB_SDK_STAMP)
$(WEB_SDK_STAMP): $(WEB_SDK)/package.json $(WEB_SDK)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix $(WEB_SDK) --no-audit --no-fund --loglevel=error && touch $@; \
	  else echo "npm not found: the self-hosted browser libraries are not installed (apt-get install npm; make web-sdk)"; fi

neo4j-fetch:
	@deploy/neo4j.sh fetch

up: venv web-sdk
	@mkdir -p var
	@deploy/neo4j.sh start dev
	@$(BIN)/veil migrate
	@$(MAKE) --no-print-directory api-start
	@$(BIN)/veil demo load --credentials var/demo-credentials.json --api-url $(API_URL)
	@deploy/activation-demo.sh start
	@echo
	@echo "Veil is up."
	@echo "  Console:       $(API_URL)/   (sign in with a GraphQL key below, or a staff user: veil users create)"
	@echo "  API:           $(API_URL)   (OpenAPI docs: $(API_URL)/docs)"
	@echo "  Health:        $(API_URL)/healthz  $(API_URL)/readyz  $(API_URL)/metrics"
	@echo "  Neo4j (Bolt):  bolt://127.0.0.1:7687  user neo4j, password in $${VEIL_NEO4J_PASSWORD_FILE:-var/secrets/neo4j-password} (or \$$VEIL_NEO4J_PASSWORD)"
	@echo "  Secrets:       generated once under var/secrets/ (0600); see 'veil secrets status'"
	@echo "  Demo write key (HTTP Basic user name): $$($(BIN)/python -c 'import json;print(json.load(open("var/demo-credentials.json"))["write_key"])')"
	@echo "  GraphQL:       $(API_URL)/graphql  (Authorization: Bearer <key>, X-Veil-Purpose: support)"
	@echo "  Demo GraphQL keys (admin, support_agent, analyst, compliance_officer, marketer): in var/demo-credentials.json"
	@echo "  Credentials file: var/demo-credentials.json"
	@echo "  Try: curl -u \"<write key>:\" -H 'Content-Type: application/json' -d '{\"userId\":\"u1\",\"traits\":{\"email\":\"amy@example.com\"}}' $(API_URL)/v1/identify"
	@echo "  Stop everything with: make down"

api-start:
	@if [ -f var/api.pid ] && kill -0 $$(cat var/api.pid) 2>/dev/null; then echo "API already running (pid $$(cat var/api.pid))"; else \
	  nohup $(BIN)/veil serve > var/api.log 2>&1 < /dev/null & echo $$! > var/api.pid; \
	  for i in $$(seq 1 60); do curl -fs $(API_URL)/readyz >/dev/null 2>&1 && break; sleep 0.5; done; \
	  curl -fs $(API_URL)/readyz >/dev/null || { echo "API did not become ready; see var/api.log"; tail -20 var/api.log; exit 1; }; \
	  echo "API ready on $(API_URL) (pid $$(cat var/api.pid), log var/api.log)"; fi

api-stop:
	@if [ -f var/api.pid ] && kill -0 $$(cat var/api.pid) 2>/dev/null; then kill -TERM $$(cat var/api.pid); \
	  for i in $$(seq 1 40); do kill -0 $$(cat var/api.pid) 2>/dev/null || break; sleep 0.25; done; echo "API stopped"; fi
	@rm -f var/api.pid

down: api-stop
	@deploy/activation-demo.sh stop
	@deploy/neo4j.sh stop dev

status:
	@deploy/neo4j.sh status dev || true
	@curl -fs $(API_URL)/readyz || echo "API not ready"

test: venv web-sdk
	@VEIL_NEO4J_BOLT_PORT=$(TEST_PORT) deploy/neo4j.sh start test
	@VEIL_ENV=test VEIL_NEO4J_URI=$(TEST_NEO4J_URI) $(BIN)/python -m pytest -q; rc=$$?; \
	  deploy/neo4j.sh stop test; exit $$rc

# The durable log's Kafka backend against a real local broker (deploy/kafka.sh, KRaft, ports 9092/9093).
test-kafka: venv
	@VEIL_NEO4J_BOLT_PORT=$(TEST_PORT) deploy/neo4j.sh start test
	@deploy/kafka.sh start test
	@VEIL_ENV=test VEIL_NEO4J_URI=$(TEST_NEO4J_URI) VEIL_KAFKA_BOOTSTRAP=127.0.0.1:$${VEIL_KAFKA_PORT:-9092} \
	  $(BIN)/python -m pytest -q tests/collect/test_kafka_log.py; rc=$$?; \
	  deploy/kafka.sh stop test; deploy/neo4j.sh stop test; exit $$rc

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy access privacy consent audit

bench: venv
	@deploy/neo4j.sh start test
	@VEIL_NEO4J_URI=$(TEST_NEO4J_URI) $(BIN)/python bench/ingest_http.py; rc=$$?; deploy/neo4j.sh stop test; exit $$rc

clean: down
	rm -rf var/neo4j/dev var/neo4j/test var/api.log var/demo-credentials.json
