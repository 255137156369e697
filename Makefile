# kiln's everyday commands. `make test` is what CI runs (through .ci/run).

CARGO ?= cargo
KILN := target/debug/kiln

.PHONY: build test demo bench lint tools

build:
	$(CARGO) build --workspace

# Installs the schema checker when it is missing, then runs every test.
test: tools
	$(CARGO) test --workspace

tools:
	@command -v kubernetes-validate >/dev/null || python3 -m pip install --quiet kubernetes-validate
	@command -v kubectl >/dev/null || { echo "kubectl is needed for the kustomize test"; exit 1; }

# Renders the bundled example to stdout.
demo:
	$(CARGO) run -q -p kiln -- render -f examples/services

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# kiln vs helm template vs kubectl kustomize; see bench/README.md.
bench:
	bench/render.sh
