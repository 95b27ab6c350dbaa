// Unknown fields, as the API server's strict field validation (kubectl's
// default since 1.27) rejects them. The JSON schemas of kubernetes-models
// leave additional properties open, as the Kubernetes OpenAPI does, so a
// misspelt field (`readinesProbe`) passes .validate(); this walks each
// object against the field lists of the same package's type declarations
// (.d.ts, generated from the same OpenAPI; for the Prometheus Operator's
// ServiceMonitor, from its CRD) instead.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const here = dirname(new URL(import.meta.url).pathname);
const modules = join(here, "..", "node_modules");

// TYPE EXPRESSIONS: "Array<X>" -> { array: X }; "IIoK8s..." -> { ref };
// a map ({ [key: string]: X }) -> { map: X }; anything else is a leaf
// (string, number, a union of literals, IntOrString, Quantity ...).
function parseType(text) {
    text = text.trim().replace(/;$/, "");
    const arr = /^Array<(.*)>$/.exec(text);
    if (arr) return { array: parseType(arr[1]) };
    if (/^I[A-Z][A-Za-z0-9]+$/.test(text)) return { ref: text };
    return { leaf: text };
}

// Parse one .d.ts: its interfaces' fields, keyed by the long (global) name
// the package exports them under (IIoK8sApiCoreV1Container ...).
function parseDeclarations(text, types) {
    const aliases = new Map();
    for (const m of text.matchAll(/export type \{([^}]*)\}/g)) {
        for (const part of m[1].split(",")) {
            const a = /^\s*(I\w+) as (I\w+)\s*$/.exec(part);
            if (a) aliases.set(a[1], a[2]);
        }
    }
    for (const m of text.matchAll(/^export interface (\w+)(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/gm)) {
        const global = aliases.get(m[1]);
        if (!global) continue;
        const fields = new Map();
        const lines = m[2].split("\n");
        for (let i = 0; i < lines.length; i++) {
            const f = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i]);
            if (!f) continue;
            if (f[2].trim() === "{") {
                // A map: "        [key: string]: X;" up to "    };".
                let value = { leaf: "string" };
                for (i++; i < lines.length && !/^ {4}\};?$/.test(lines[i]); i++) {
                    const v = /^\s*\[key: string\]: (.*)$/.exec(lines[i]);
                    if (v) value = parseType(v[1]);
                }
                fields.set(f[1], { map: value });
            } else {
                fields.set(f[1], parseType(f[2]));
            }
        }
        types.set(global, fields);
    }
}

function walk(dir, out) {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) {
            if (e.name !== "node_modules" && e.name !== "_schemas") walk(p, out);
        } else if (e.name.endsWith(".d.ts")) {
            out.push(p);
        }
    }
    return out;
}

let TYPES = null;
function types() {
    if (TYPES) return TYPES;
    TYPES = new Map();
    for (const pkg of ["kubernetes-models", "@kubernetes-models/apimachinery", "@kubernetes-models/prometheus-operator"]) {
        for (const file of walk(join(modules, pkg), [])) {
            parseDeclarations(readFileSync(file, "utf8"), TYPES);
        }
    }
    return TYPES;
}

// The global type name of a top-level kind, from its own declaration file
// (MODULE: the kind's module, "kubernetes-models/apps/v1/Deployment").
export function rootType(module) {
    const file = join(modules, `${module}.d.ts`);
    const m = /export type \{ I\w+ as (I\w+)/.exec(readFileSync(file, "utf8"));
    return m ? m[1] : null;
}

// Paths (".spec.template.spec.containers[0].readinesProbe") of the fields
// of OBJ that the type TYPENAME does not have.
export function unknownFields(obj, typeName) {
    const found = [];
    const table = types();
    const visit = (value, type, path) => {
        if (value === null || value === undefined || !type) return;
        if (type.array) {
            if (Array.isArray(value)) value.forEach((v, i) => visit(v, type.array, `${path}[${i}]`));
            return;
        }
        if (type.map) {
            if (typeof value === "object" && !Array.isArray(value)) {
                for (const [k, v] of Object.entries(value)) visit(v, type.map, `${path}.${k}`);
            }
            return;
        }
        if (!type.ref) return;
        const fields = table.get(type.ref);
        // Not an interface (IntOrString, Quantity, RawExtension ...): no list.
        if (!fields || typeof value !== "object" || Array.isArray(value)) return;
        for (const [k, v] of Object.entries(value)) {
            if (!fields.has(k)) found.push(`${path}.${k}`);
            else visit(v, fields.get(k), `${path}.${k}`);
        }
    };
    visit(obj, { ref: typeName }, "");
    return found;
}

// For the self-test: how many types were read (0 means the parse broke).
export function typeCount() {
    return types().size;
}
