// Validates objects of CRD kinds against their CRD schemas, with the @kubernetes-models
// packages (each model's validate() runs the CRD's OpenAPI schema compiled by ajv): types,
// required fields, enums, patterns and formats. Reads a JSON array of objects on stdin; the
// packages' folder is argv[2]. Prints one line per object; exits 1 when any is refused, or
// when an object's kind has no model here (so a new kind cannot go unchecked).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const packages = {
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/index.js",
  "cert-manager.io/v1": "@kubernetes-models/cert-manager/cert-manager.io/v1/index.mjs",
  "argoproj.io/v1alpha1": "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/index.js",
  "source.toolkit.fluxcd.io/v1": "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1/index.js",
  "kustomize.toolkit.fluxcd.io/v1": "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1/index.js",
};

const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const object of objects) {
  const name = `${object.apiVersion} ${object.kind} ${object.metadata?.namespace ?? ""}/${object.metadata?.name}`;
  const path = packages[object.apiVersion];
  const models = path && (await import(pathToFileURL(`${modules}/node_modules/${path}`)));
  const Model = models?.[object.kind];
  if (!Model) {
    console.log(`NO MODEL ${name}`);
    failed++;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`ok ${name}`);
  } catch (error) {
    console.log(`INVALID ${name}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
