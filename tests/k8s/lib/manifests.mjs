// Reading rendered manifests (the output of `kubectl kustomize`): one file
// of YAML documents separated by `---`. Shared by validate.mjs and
// policy.mjs.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// Every object of FILE, in order, as plain data. A YAML error (or a
// document that is not a mapping) throws, naming the file and the
// document: a file that does not parse must fail the suite, never be
// read as fewer objects.
export function loadObjects(file) {
    const text = readFileSync(file, "utf8");
    const objects = [];
    parseAllDocuments(text, { uniqueKeys: true }).forEach((doc, i) => {
        if (doc.errors.length > 0) {
            throw new Error(`${file}: document ${i + 1}: ${doc.errors[0].message}`);
        }
        const data = doc.toJS();
        if (data === null || data === undefined) return; // an empty document
        if (typeof data !== "object" || Array.isArray(data)) {
            throw new Error(`${file}: document ${i + 1} is not a mapping`);
        }
        objects.push(data);
    });
    return objects;
}

// "Kind/name" (with the namespace when there is one): how the reports
// name an object.
export function objectName(o) {
    const name = o?.metadata?.name ?? "(no name)";
    const ns = o?.metadata?.namespace;
    return `${o?.kind ?? "(no kind)"}/${ns ? ns + "/" : ""}${name}`;
}

// The workloads: objects with a pod template.
export const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);

export function podSpecOf(o) {
    return o?.spec?.template?.spec;
}

// Every container of a pod spec, init containers included, each with the
// list it is in ("containers" or "initContainers").
export function containersOf(podSpec) {
    const out = [];
    for (const list of ["initContainers", "containers"]) {
        for (const c of podSpec?.[list] ?? []) out.push({ list, container: c });
    }
    return out;
}
