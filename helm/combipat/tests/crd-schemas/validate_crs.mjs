// Validates custom resources against their CRDs' schemas, as the kubernetes-models packages
// of crd-schemas/ carry them: first each package's JSON-schema validator (types, enums,
// required fields), then the TypeScript compiler over the same objects written as typed
// literals, which refuses any field the CRD does not declare (the API server's strict field
// validation would). Usage: node validate_crs.mjs OBJECTS.json (a JSON array of objects).
// A kind with no package here is reported as not validated, never as valid.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

const MODELS = {
  "monitoring.coreos.com/v1 ServiceMonitor": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
  "monitoring.coreos.com/v1 PrometheusRule": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule",
  "keda.sh/v1alpha1 ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject",
  "keda.sh/v1alpha1 TriggerAuthentication": "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication",
  "postgresql.cnpg.io/v1 Cluster": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/Cluster",
  "postgresql.cnpg.io/v1 ScheduledBackup": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1/ScheduledBackup",
  "opentelemetry.io/v1beta1 OpenTelemetryCollector": "@kubernetes-models/opentelemetry-operator/opentelemetry.io/v1beta1/OpenTelemetryCollector",
};

const objects = JSON.parse(readFileSync(process.argv[2], "utf8"));
const failures = [];
const unvalidated = [];
const typed = [];
for (const [i, obj] of objects.entries()) {
  const kind = `${obj.apiVersion} ${obj.kind}`;
  const label = `${obj.kind}/${obj.metadata?.name}`;
  const module = MODELS[kind];
  if (!module) {
    unvalidated.push(label);
    continue;
  }
  const models = await import(module);
  const Model = models[obj.kind];
  try {
    new Model(obj).validate();
  } catch (err) {
    failures.push(`${label}: ${err.message}`);
  }
  typed.push({ i, label, module, kind: obj.kind, obj });
}

// Unknown fields: TypeScript's excess-property check on object literals, at every depth.
if (typed.length) {
  const dir = mkdtempSync(join(here, ".check-"));
  const lines = typed.map(({ module }, n) => `import type { I${typed[n].kind} as T${n} } from "${module}";`);
  typed.forEach(({ obj, label }, n) => lines.push(`// ${label}\nexport const o${n}: T${n} = ${JSON.stringify(obj, null, 1)};`));
  const file = join(dir, "objects.ts");
  writeFileSync(file, lines.join("\n") + "\n");
  try {
    execFileSync(join(here, "node_modules/.bin/tsc"),
      ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", file],
      { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const text = `${err.stdout}${err.stderr}`;
    const source = readFileSync(file, "utf8").split("\n");
    for (const m of text.matchAll(/objects\.ts\((\d+),\d+\): error TS\d+: (.*)/g)) {
      // The object a line belongs to: the nearest "// Kind/name" comment above it.
      let line = Number(m[1]) - 1;
      while (line > 0 && !source[line].startsWith("// ")) line--;
      failures.push(`${source[line].slice(3)}: ${m[2]}`);
    }
    if (!failures.length) failures.push(`tsc failed: ${text.slice(0, 2000)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const f of failures) console.error(`custom resources: ${f}`);
if (unvalidated.length) console.log(`custom resources: no CRD schema here for ${unvalidated.join(", ")} (see k8s/README.md)`);
console.log(`custom resources: ${typed.length} validated against their CRD schemas, ${failures.length} problems`);
process.exit(failures.length ? 1 : 0);
