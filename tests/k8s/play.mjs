#!/usr/bin/env node
// Turn the rendered dev overlay into files `podman kube play` (Podman 4.3,
// Debian 12) can run, for tests/k8s/run.sh:
//
//   node tests/k8s/play.mjs RENDERED OUTDIR SECRETS TAG
//
// RENDERED  the output of `kubectl kustomize k8s/overlays/dev`
// OUTDIR    gets one <deployment>.yaml per Deployment (with the ConfigMaps
//           its pod reads), secrets/<name>.yaml, one Kubernetes Secret per
//           secret volume, for `podman secret create`, and
//           configmaps/<configmap>/<key>, the files of every ConfigMap (the
//           database run.sh starts mounts mysql-initdb's)
// SECRETS   a folder of test values: SECRETS/<secret>/<key> (never
//           committed: run.sh makes them with random values)
// TAG       the tag of the local images (localhost/crm-<name>:TAG)
//
// Prints one line per Deployment: "NAME FILE CONTAINER ALIASES", where
// ALIASES (comma-separated) are the names of the Services selecting its
// pods: run.sh gives the pod those names in the Podman network, as a
// cluster's DNS would.
//
// What is changed, and why (everything else is played as rendered):
//  1. images: crm-<name>:<version> -> localhost/crm-<name>:TAG, the images
//     the container suite builds (no registry here).
//  2. replicas: 1. Podman plays every replica as a pod; one per Deployment
//     shows the images run (tests/k8s/policy.mjs checks the replica counts).
//  3. secret volumes: each gets a Podman secret of its own, holding exactly
//     the keys it mounts under the paths its items give, and
//     `optional: false`. Podman 4.3 (a) panics on a secret volume whose
//     `optional` is unset, (b) names the volume it fills after the Secret,
//     so two volumes of one Secret with different items (a service's
//     password and its init container's migrate-password) share the first
//     one's files, and (c) ignores stringData and writes `data` values as
//     they are, without decoding them: the generated Secrets carry the
//     plain values under `data` (only Podman reads them).
//  4. emptyDir volumes: renamed crm-k8s-<deployment>-<volume>. Podman 4.3
//     makes a named volume per emptyDir, named after the volume alone, so
//     every pod's `tmp` would be one volume shared by all of them.
//  5. restartPolicy: OnFailure. Podman 4.3 gives init containers the pod's
//     restart policy: with Always (a Deployment's) `migrate` exits 0, is
//     started again, and again, and the play fails waiting for it to end.
//  6. container ports: removed. Podman 4.3 publishes every containerPort
//     on the host (0.0.0.0:9000 ...), where Kubernetes publishes nothing:
//     the second pod could not start (the port is taken) and the services
//     would listen on every address of this machine. Only the probes and
//     Services (not played) use the port names.
//  7. probes: removed. Podman 4.3 ignores readiness and startup probes and
//     turns a liveness probe into a health check that runs `curl` in the
//     container (the images have none) and restarts it on failure. run.sh
//     does the readiness probes' requests itself instead.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadObjects } from "./lib/manifests.mjs";
import { selects } from "./lib/netpol.mjs";

const [rendered, outdir, secretsDir, tag] = process.argv.slice(2);
if (!tag) {
    console.error("usage: node play.mjs RENDERED OUTDIR SECRETS TAG");
    process.exit(2);
}
const objects = loadObjects(rendered);
mkdirSync(join(outdir, "secrets"), { recursive: true });
for (const cm of objects.filter((o) => o.kind === "ConfigMap")) {
    const dir = join(outdir, "configmaps", cm.metadata.name);
    mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, k), v, { mode: 0o755 });
}

// The value of key KEY of Secret NAME, from the test values.
function secretValue(name, key) {
    try {
        return readFileSync(join(secretsDir, name, key), "utf8");
    } catch {
        throw new Error(`no test value for key ${key} of Secret ${name} (${join(secretsDir, name, key)})`);
    }
}

function localImage(image) {
    const m = /(?:^|\/)(crm-[a-z]+):[^:/]+$/.exec(image ?? "");
    return m ? `localhost/${m[1]}:${tag}` : image;
}

for (const d of objects.filter((o) => o.kind === "Deployment")) {
    const name = d.metadata.name;
    const spec = d.spec.template.spec;
    d.spec.replicas = 1;
    spec.restartPolicy = "OnFailure";
    const renamed = new Map();
    for (const v of spec.volumes ?? []) {
        if (v.secret) {
            const unique = `crm-k8s-${name}-${v.name}`;
            const keys = v.secret.items?.map((i) => [i.key, i.path]) ??
                readKeysOf(v.secret.secretName).map((k) => [k, k]);
            const data = Object.fromEntries(keys.map(([key, path]) => [path, secretValue(v.secret.secretName, key)]));
            writeFileSync(join(outdir, "secrets", `${unique}.yaml`),
                stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: unique }, data }));
            v.secret = { secretName: unique, optional: false };
        } else if (v.emptyDir) {
            renamed.set(v.name, `crm-k8s-${name}-${v.name}`);
            v.name = renamed.get(v.name);
        }
    }
    const configMaps = new Set();
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        c.image = localImage(c.image);
        for (const m of c.volumeMounts ?? []) if (renamed.has(m.name)) m.name = renamed.get(m.name);
        for (const p of ["livenessProbe", "readinessProbe", "startupProbe", "ports"]) delete c[p];
        for (const e of c.envFrom ?? []) if (e.configMapRef) configMaps.add(e.configMapRef.name);
        for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const v of spec.volumes ?? []) if (v.configMap) configMaps.add(v.configMap.name);
    const docs = objects.filter((o) => o.kind === "ConfigMap" && configMaps.has(o.metadata.name));
    docs.push(d);
    const file = join(outdir, `${name}.yaml`);
    writeFileSync(file, docs.map((o) => stringify(o)).join("---\n"));
    const labels = d.spec.template.metadata?.labels ?? {};
    const aliases = objects.filter((o) => o.kind === "Service" && o.spec?.selector &&
        selects({ matchLabels: o.spec.selector }, labels)).map((s) => s.metadata.name);
    console.log(`${name} ${file} ${spec.containers[0].name} ${aliases.join(",") || name}`);
}

// The keys of Secret NAME among the test values (a volume without items
// mounts them all).
function readKeysOf(name) {
    try {
        return readdirSync(join(secretsDir, name));
    } catch {
        throw new Error(`no test values for Secret ${name} (${join(secretsDir, name)})`);
    }
}
