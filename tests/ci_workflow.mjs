// Parses a GitHub Actions workflow with GitHub's own parser (@actions/workflow-parser, the
// one behind the Actions language service) and prints its jobs and steps as JSON, or the
// parser's errors. argv[2]: the packages' folder; argv[3]: the workflow file.
import { readFileSync } from "node:fs";
import { register } from "node:module";
import { pathToFileURL } from "node:url";

// The package imports its JSON schema the way bundlers do, without `with { type: "json" }`,
// which Node refuses; this hook loads .json modules as JSON.
register(
  "data:text/javascript," +
    encodeURIComponent(`
      import { readFileSync } from "node:fs";
      import { fileURLToPath } from "node:url";
      export async function load(url, context, next) {
        if (url.endsWith(".json")) {
          return { format: "json", source: readFileSync(fileURLToPath(url)), shortCircuit: true };
        }
        return next(url, context);
      }`),
);

const parser = await import(pathToFileURL(`${process.argv[2]}/node_modules/@actions/workflow-parser/dist/index.js`));
const file = process.argv[3];
const trace = { info() {}, verbose() {}, error() {} };
const result = parser.parseWorkflow({ name: file, content: readFileSync(file, "utf8") }, trace);
const errors = result.context.errors.getErrors().map((e) => e.message);
if (errors.length || !result.value) {
  console.log(JSON.stringify({ errors }));
  process.exit(1);
}
const template = await parser.convertWorkflowTemplate(result.context, result.value);
const more = result.context.errors.getErrors().map((e) => e.message);
const text = (token) => (token === undefined ? undefined : token.toString());
console.log(JSON.stringify({
  errors: more,
  jobs: template.jobs.map((job) => ({
    id: job.id.value,
    env: Object.fromEntries(Array.from({ length: job.env?.count ?? 0 }, (_, i) => job.env.get(i)).map((p) => [p.key.toString(), p.value.toString()])),
    steps: job.steps.map((step) => ({
      id: step.id,
      name: text(step.name),
      if: text(step.if),
      run: text(step.run),
      uses: text(step.uses),
    })),
  })),
}));
