# kiln's everyday commands. `make test` is what CI runs (through .ci/run).

CARGO ?= cargo
# Empty: image/build.sh builds localhost/kiln/kiln-webhook:<version>, the tag charts/webhook
# runs by default; push it elsewhere with IMAGE=registry/repo:tag.
IMAGE ?=
KILN := target/debug/kiln

.PHONY: build test demo bench bench-webhook lint tools webhook-local image image-test readme-test

build:
	$(CARGO) build --workspace

# Installs what the tests need when missing (the schema checker, the independent CEL runtime,
# checkov, buildah, promtool, node, etcd), then runs every test: the workspace's, the image's,
# the README's commands, the checkov scan of the rendered examples, the rendered alerts under
# promtool, the CRD-kind objects (and the examples' Argo CD and Flux objects) against their CRD
# schemas, the SARIF logs under Microsoft's validator, the Argo CD plugin as argocd-cmp-server
# runs it, the CI examples on the example project and the etcd chart's flags with a real etcd.
test: tools
	$(CARGO) test --workspace
	image/test.sh $(IMAGE)
	tests/readme.py
	tests/checkov.sh
	tests/alerts.py
	tests/crd_kinds.py
	tests/sarif.py
	tests/argocd.py
	tests/ci_examples.py
	tests/etcd_cluster.py

tools:
	@command -v kubernetes-validate >/dev/null || python3 -m pip install --quiet kubernetes-validate
	@python3 -c "import cel_expr_python" 2>/dev/null || python3 -m pip install --quiet cel-expr-python
	@command -v checkov >/dev/null || python3 -m pip install --quiet checkov
	@command -v kubectl >/dev/null || { echo "kubectl is needed for the kustomize test"; exit 1; }
	@command -v promtool >/dev/null || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || \
	  { echo "the alert tests need promtool (Debian package prometheus)"; exit 1; }
	@command -v npm >/dev/null || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; } || \
	  { echo "the CRD-kind schema check needs node and npm"; exit 1; }
	@{ command -v etcd >/dev/null && command -v etcdctl >/dev/null; } || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq --no-install-recommends etcd-server etcd-client >/dev/null; } || \
	  { echo "the etcd chart test needs etcd and etcdctl (Debian packages etcd-server, etcd-client)"; exit 1; }
	@command -v buildah >/dev/null || command -v podman >/dev/null || { docker info >/dev/null 2>&1; } || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq buildah >/dev/null; } || \
	  { echo "the image test needs docker (with a daemon), podman or buildah"; exit 1; }

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
	$(CARGO) run -q -p kiln-webhook --bin kiln-webhook -- --listen 127.0.0.1:8443 --tls-cert target/dev-certs/tls.crt --tls-key target/dev-certs/tls.key

# The container image (Containerfile): static binaries, FROM scratch, with docker, podman or
# buildah, offline.
image:
	image/build.sh $(IMAGE)

# Builds the image and runs its binaries from its own files (a TLS admission review included).
image-test:
	image/test.sh $(IMAGE)

# Runs every command the README shows.
readme-test:
	tests/readme.py
