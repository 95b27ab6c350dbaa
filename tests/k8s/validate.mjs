#!/usr/bin/env node
// Schema validation of rendered manifests, offline, against the Kubernetes
// OpenAPI of a current release (kubernetes-models 5, see package.json):
//
//   node tests/k8s/validate.mjs FILE...
//
// Every object of every FILE (multi-document YAML, as `kubectl kustomize`
// prints it) must be:
//   1. of a kind this suite knows, at an API version current Kubernetes
//      serves (KINDS below): anything else fails, it is never skipped;
//   2. valid against that kind's JSON schema (types, required fields,
//      formats such as quantities): the model's .validate();
//   3. free of unknown fields (lib/fields.mjs), as the API server's strict
//      field validation requires;
//   4. right in what the API server checks beyond the schema and a typo
//      would break: names, label syntax, a selector that matches its pod
//      template, container and volume names, named ports.
// Prints one line per object that fails (and a summary per file); exits 1
// when any object fails, 2 on a usage or read error.
import { loadObjects, objectName, podSpecOf, containersOf, WORKLOAD_KINDS } from "./lib/manifests.mjs";
import { rootType, unknownFields } from "./lib/fields.mjs";

// The kinds (apiVersion + kind) the manifests may use: served by current
// Kubernetes releases (no removed beta versions such as policy/v1beta1 or
// autoscaling/v2beta2, which kubernetes-models still carries), and the
// Prometheus Operator's ServiceMonitor (k8s/components/servicemonitor).
// Add a kind here when the manifests start using it.
const CRD_MODULES = {
    "monitoring.coreos.com/v1 ServiceMonitor": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
};
const KINDS = new Set([
    ...Object.keys(CRD_MODULES),
    "v1 Namespace",
    "v1 ServiceAccount",
    "v1 Service",
    "v1 ConfigMap",
    "v1 Secret",
    "v1 PersistentVolumeClaim",
    "v1 LimitRange",
    "v1 ResourceQuota",
    "apps/v1 Deployment",
    "apps/v1 StatefulSet",
    "batch/v1 Job",
    "batch/v1 CronJob",
    "autoscaling/v2 HorizontalPodAutoscaler",
    "policy/v1 PodDisruptionBudget",
    "networking.k8s.io/v1 NetworkPolicy",
    "networking.k8s.io/v1 Ingress",
    "rbac.authorization.k8s.io/v1 Role",
    "rbac.authorization.k8s.io/v1 RoleBinding",
    "scheduling.k8s.io/v1 PriorityClass",
]);

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
// IANA service names: at most 15, lowercase letters, digits and single
// dashes, at least one letter.
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$/;

function checkKey(key, errors, where) {
    const parts = key.split("/");
    const name = parts.pop();
    if (parts.length > 1) {
        errors.push(`${where}: key ${JSON.stringify(key)}: more than one "/"`);
        return;
    }
    if (parts.length === 1 && !(DNS1123_SUBDOMAIN.test(parts[0]) && parts[0].length <= 253)) {
        errors.push(`${where}: key ${JSON.stringify(key)}: the prefix is not a DNS subdomain`);
    }
    if (!(QUALIFIED_NAME.test(name) && name.length <= 63)) {
        errors.push(`${where}: key ${JSON.stringify(key)}: not a qualified name (63 at most)`);
    }
}

function checkLabels(labels, errors, where) {
    for (const [k, v] of Object.entries(labels ?? {})) {
        checkKey(k, errors, where);
        if (typeof v === "string" && !(LABEL_VALUE.test(v) && v.length <= 63)) {
            errors.push(`${where}: value of ${k} (${JSON.stringify(v)}) is not a label value`);
        }
    }
}

// CLAIMS: a StatefulSet's volumeClaimTemplates, volumes of each pod too.
function checkPodSpec(spec, claims, errors) {
    const volumes = new Set(claims);
    for (const v of spec.volumes ?? []) {
        if (volumes.has(v.name)) errors.push(`volume ${v.name}: defined twice`);
        volumes.add(v.name);
    }
    const names = new Set();
    for (const { container: c } of containersOf(spec)) {
        if (names.has(c.name)) errors.push(`container ${c.name}: the name is used twice`);
        names.add(c.name);
        if (!DNS1123_LABEL.test(c.name ?? "")) errors.push(`container ${c.name}: not a DNS-1123 label`);
        const ports = new Map();
        for (const p of c.ports ?? []) {
            if (p.name !== undefined) {
                if (!(PORT_NAME.test(p.name) && p.name.length <= 15)) {
                    errors.push(`container ${c.name}: port name ${JSON.stringify(p.name)} is not an IANA service name (15 at most)`);
                }
                if (ports.has(p.name)) errors.push(`container ${c.name}: port name ${p.name} used twice`);
                ports.set(p.name, p.containerPort);
            }
        }
        for (const m of c.volumeMounts ?? []) {
            if (!volumes.has(m.name)) errors.push(`container ${c.name}: mounts ${m.name}, which is not a volume of the pod`);
        }
        for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
            const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port ?? c[probe]?.grpc?.port;
            if (typeof port === "string" && !ports.has(port)) {
                errors.push(`container ${c.name}: ${probe} uses port ${port}, which the container does not name`);
            }
        }
    }
}

function semanticErrors(o) {
    const errors = [];
    const md = o.metadata ?? {};
    const name = md.name ?? "";
    if (!name) errors.push("metadata.name is missing");
    else if (o.kind === "Namespace" || o.kind === "Service") {
        if (!(DNS1035_LABEL.test(name) && name.length <= 63)) errors.push(`metadata.name ${name}: not a DNS-1035 label`);
    } else if (!(DNS1123_SUBDOMAIN.test(name) && name.length <= 253)) {
        errors.push(`metadata.name ${name}: not a DNS-1123 subdomain`);
    }
    if (md.namespace !== undefined && !DNS1123_LABEL.test(md.namespace)) {
        errors.push(`metadata.namespace ${md.namespace}: not a DNS-1123 label`);
    }
    checkLabels(md.labels, errors, "metadata.labels");
    for (const k of Object.keys(md.annotations ?? {})) checkKey(k, errors, "metadata.annotations");

    if (WORKLOAD_KINDS.has(o.kind)) {
        const tpl = o.spec?.template?.metadata?.labels ?? {};
        checkLabels(tpl, errors, "spec.template.metadata.labels");
        for (const [k, v] of Object.entries(o.spec?.selector?.matchLabels ?? {})) {
            if (tpl[k] !== v) errors.push(`spec.selector.matchLabels ${k}=${v} does not match the pod template's labels`);
        }
        if (o.kind !== "Job" && Object.keys(o.spec?.selector?.matchLabels ?? {}).length === 0 &&
            (o.spec?.selector?.matchExpressions ?? []).length === 0) {
            errors.push("spec.selector selects nothing");
        }
        const claims = (o.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name);
        if (podSpecOf(o)) checkPodSpec(podSpecOf(o), claims, errors);
    }
    if (o.kind === "Service") {
        const ports = o.spec?.ports ?? [];
        if (ports.length > 1 && ports.some((p) => !p.name)) errors.push("spec.ports: every port needs a name when there are several");
        if (new Set(ports.map((p) => p.name)).size !== ports.length) errors.push("spec.ports: a port name is used twice");
    }
    if (o.kind === "HorizontalPodAutoscaler") {
        if ((o.spec?.minReplicas ?? 1) > o.spec?.maxReplicas) errors.push("spec.minReplicas is above spec.maxReplicas");
    }
    if (o.kind === "PodDisruptionBudget") {
        if (o.spec?.minAvailable !== undefined && o.spec?.maxUnavailable !== undefined) {
            errors.push("spec: minAvailable and maxUnavailable are exclusive");
        }
    }
    return errors;
}

// All errors of one object (an empty list when it is valid).
export async function validateObject(o) {
    const key = `${o.apiVersion} ${o.kind}`;
    if (!KINDS.has(key)) {
        return [`unknown kind ${JSON.stringify(o.kind)} at apiVersion ${JSON.stringify(o.apiVersion)} (not one of the kinds validate.mjs knows; add it to KINDS if current Kubernetes serves it)`];
    }
    const module = CRD_MODULES[key] ?? `kubernetes-models/${o.apiVersion}/${o.kind}`;
    const mod = await import(module);
    const Model = mod[o.kind];
    const errors = [];
    try {
        new Model(o).validate();
    } catch (e) {
        errors.push(`schema: ${e.message}`);
    }
    for (const path of unknownFields(o, rootType(module))) errors.push(`unknown field ${path.slice(1)}`);
    errors.push(...semanticErrors(o));
    return errors;
}

async function main(files) {
    if (files.length === 0) {
        console.error("usage: node validate.mjs FILE...");
        return 2;
    }
    let bad = 0;
    for (const file of files) {
        let objects;
        try {
            objects = loadObjects(file);
        } catch (e) {
            console.error(`validate: ${e.message}`);
            return 2;
        }
        let fileBad = 0;
        const kinds = new Map();
        for (const o of objects) {
            kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
            const errors = await validateObject(o);
            if (errors.length > 0) {
                fileBad++;
                for (const e of errors) console.log(`FAIL  ${file}: ${objectName(o)}: ${e}`);
            }
        }
        if (objects.length === 0) {
            console.log(`FAIL  ${file}: no objects`);
            fileBad++;
        }
        const summary = [...kinds].map(([k, n]) => `${n} ${k}`).join(", ");
        console.log(`${fileBad ? "FAIL" : "ok  "}  ${file}: ${objects.length - fileBad} of ${objects.length} objects valid (${summary})`);
        bad += fileBad;
    }
    return bad ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
