# kiln's everyday commands. `make test` is what CI runs (through .ci/run).

CARGO ?= cargo
KILN := target/debug/kiln

.PHONY: build test demo bench bench-webhook lint tools webhook-local

build:
	$(CARGO) build --workspace

# Installs the schema checker and the independent CEL runtime when missing, then runs every
# test.
test: tools
	$(CARGO) test --workspace

tools:
	@command -v kubernetes-validate >/dev/null || python3 -m pip install --quiet kubernetes-validate
	@python3 -c "import cel_expr_python" 2>/dev/null || python3 -m pip install --quiet cel-expr-python
	@command -v kubectl >/dev/null || { echo "kubectl is needed for the kustomize test"; exit 1; }

# Renders the bundled example to stdout.
demo:
	$(CARGO) run -q -p kiln -- render -f examples/services

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# kiln vs helm template vs kubectl kustomize (README, Benchmark).
bench:
	bench/render.sh

# kiln-webhook under wrk, against a bare rustls endpoint (README, Admission webhook).
bench-webhook:
	bench/webhook.sh

# The webhook on https://127.0.0.1:8443 with a CA and certificate generated on first use.
webhook-local:
	@[ -f target/dev-certs/tls.crt ] || $(CARGO) run -q -p kiln-webhook --bin kiln-certs -- --out-dir target/dev-certs --name localhost --name 127.0.0.1 >/dev/null
	$(CARGO) run -q -p kiln-webhook -- --listen 127.0.0.1:8443 --tls-cert target/dev-certs/tls.crt --tls-key target/dev-certs/tls.key
