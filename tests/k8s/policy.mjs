#!/usr/bin/env node
// The platform's policy for its Kubernetes manifests, checked on rendered
// manifests (`kubectl kustomize k8s/overlays/dev`, .../prod):
//
//   node tests/k8s/policy.mjs FILE...            every rule on every FILE
//   node tests/k8s/policy.mjs --mutate FILE...   prove each rule can fail
//   node tests/k8s/policy.mjs --list             the rules and mutations
//
// Check mode prints "ok    FILE: rule: title" or "FAIL  FILE: rule: ..."
// with one line per violation, and exits 1 on any violation.
//
// Mutate mode: for every mutation (MUTATIONS below, at least one per
// rule), a copy of the manifests has the one field a rule checks removed
// or broken; the rule must then report a violation it did not report on
// the unchanged manifests. Prints "caught"/"MISSED" per mutation and
// "N of M mutations caught" per file; exits 1 unless every one is caught.
//
// Environment: CRM_K8S_SERVICES (the service Deployments, default
// "customers sales marketing identity"), CRM_K8S_NAMESPACE (crm).
import { loadObjects, objectName, podSpecOf, containersOf } from "./lib/manifests.mjs";
import { selects, allowed, removeAdmittingRules } from "./lib/netpol.mjs";

const SERVICES = (process.env.CRM_K8S_SERVICES ?? "customers sales marketing identity").split(/\s+/).filter(Boolean);
const NAMESPACE = process.env.CRM_K8S_NAMESPACE ?? "crm";
const ADMIN_PORT = 9100;
const FASTCGI_PORT = 9000;
const DRAIN_DEFAULT = 30; // CRM_DRAIN_SECONDS when a container does not set it
const HPA_MIN = 2;
const HPA_MAX = 20;
// The Secrets the manifests may reference (never commit), with their keys.
const SECRETS = {
    "crm-event-key": ["key"],
    "crm-jwt": ["public.pem", "signing.pem"],
    "crm-tls": ["tls.crt", "tls.key"],
    "crm-mysql-root": ["password"],
    "crm-db-endpoint": ["host"],
    ...Object.fromEntries(SERVICES.map((s) => [`crm-db-${s}`, ["password", "migrate-password"]])),
};
// Volume types Pod Security "restricted" allows.
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret"];
// Kinds that live in a namespace (everything the manifests use but Namespace).
const CLUSTER_SCOPED = new Set(["Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding"]);

// ---- the model of a rendering -----------------------------------------------

function context(objects) {
    const of = (kind) => objects.filter((o) => o.kind === kind);
    const ctx = {
        objects,
        deployments: of("Deployment"),
        statefulsets: of("StatefulSet"),
        services: of("Service"),
        hpas: of("HorizontalPodAutoscaler"),
        pdbs: of("PodDisruptionBudget"),
        policies: of("NetworkPolicy"),
        configmaps: of("ConfigMap"),
        secrets: of("Secret"),
        namespaces: of("Namespace"),
        serviceAccounts: of("ServiceAccount"),
    };
    ctx.workloads = [...ctx.deployments, ...ctx.statefulsets, ...of("Job"), ...of("DaemonSet")];
    ctx.deployment = (name) => ctx.deployments.find((d) => d.metadata?.name === name);
    ctx.serviceDeployments = ctx.deployments.filter((d) => SERVICES.includes(d.metadata?.name));
    ctx.nginx = ctx.deployment("nginx");
    ctx.mysql = ctx.workloads.find((w) => w.metadata?.name === "mysql");
    const nsObj = ctx.namespaces.find((n) => n.metadata?.name === NAMESPACE);
    ctx.nsLabels = { ...(nsObj?.metadata?.labels ?? {}), "kubernetes.io/metadata.name": NAMESPACE };
    return ctx;
}

// The main container of a workload: the one named like it, else the first.
function mainContainer(w) {
    const cs = podSpecOf(w)?.containers ?? [];
    return cs.find((c) => c.name === w.metadata?.name) ?? cs[0];
}

// A container's port number for PORT (a number or a port name).
function portNumber(c, port) {
    if (typeof port === "number") return port;
    return (c?.ports ?? []).find((p) => p.name === port)?.containerPort;
}

// The value of env var NAME in container C (literal, or from a ConfigMap
// of the rendering), or undefined.
function envValue(ctx, c, name) {
    let value;
    for (const ef of c.envFrom ?? []) {
        const cm = ctx.configmaps.find((m) => m.metadata?.name === ef.configMapRef?.name);
        const key = name.startsWith(ef.prefix ?? "") ? name.slice((ef.prefix ?? "").length) : null;
        if (cm && key !== null && cm.data?.[key] !== undefined) value = cm.data[key];
    }
    for (const e of c.env ?? []) {
        if (e.name !== name) continue;
        if (e.value !== undefined) value = e.value;
        const ref = e.valueFrom?.configMapKeyRef;
        if (ref) value = ctx.configmaps.find((m) => m.metadata?.name === ref.name)?.data?.[ref.key];
    }
    return value;
}

// Seconds a preStop hook waits: sleep.seconds, or `sleep N` in an exec.
function preStopDelay(c) {
    const h = c.lifecycle?.preStop;
    if (!h) return 0;
    if (h.sleep) return Number(h.sleep.seconds) || 0;
    const cmd = (h.exec?.command ?? []).join(" ");
    const m = /\bsleep\s+(\d+)/.exec(cmd);
    return m ? Number(m[1]) : 0;
}

// Endpoints for the NetworkPolicy evaluator.
function podEndpoint(ctx, w) {
    return {
        ns: w.metadata?.namespace ?? NAMESPACE,
        labels: w.spec?.template?.metadata?.labels ?? {},
        nsLabels: ctx.nsLabels,
        ports: (podSpecOf(w)?.containers ?? []).flatMap((c) => c.ports ?? []),
        name: w.metadata?.name,
    };
}
const DNS = { ns: "kube-system", labels: { "k8s-app": "kube-dns" }, nsLabels: { "kubernetes.io/metadata.name": "kube-system" }, ports: [], name: "kube-dns" };
const INTERNET = { external: true, ip: "203.0.113.10", name: "an outside address" };
const EXTERNAL_DB = { external: true, name: "the external database" };
// Prometheus: wherever the operator runs it; any peer a rule names will do.
const PROMETHEUS = { external: true, any: true, name: "prometheus" };

// The flows the platform needs, as [source, destination, port, protocol].
function requiredFlows(ctx) {
    const flows = [];
    const nginx = ctx.nginx && podEndpoint(ctx, ctx.nginx);
    for (const d of ctx.serviceDeployments) {
        const svc = podEndpoint(ctx, d);
        if (nginx) flows.push([nginx, svc, FASTCGI_PORT, "TCP"]);
        flows.push([svc, ctx.mysql ? podEndpoint(ctx, ctx.mysql) : EXTERNAL_DB, 3306, "TCP"]);
        flows.push([svc, DNS, 53, "UDP"]);
        if (nginx) flows.push([svc, nginx, 8081, "TCP"]);
        flows.push([PROMETHEUS, svc, ADMIN_PORT, "TCP"]);
    }
    if (nginx) {
        flows.push([INTERNET, nginx, 8443, "TCP"]);
        flows.push([nginx, DNS, 53, "UDP"]); // NGINX resolves its upstreams' names
    }
    return flows;
}

// Flows that must stay closed.
function forbiddenFlows(ctx) {
    const flows = [];
    const svcs = ctx.serviceDeployments.map((d) => podEndpoint(ctx, d));
    const nginx = ctx.nginx && podEndpoint(ctx, ctx.nginx);
    for (const s of svcs) flows.push([INTERNET, s, FASTCGI_PORT, "TCP"], [INTERNET, s, ADMIN_PORT, "TCP"]);
    if (svcs.length > 1) flows.push([svcs[0], svcs[1], FASTCGI_PORT, "TCP"]);
    if (nginx) flows.push([INTERNET, nginx, 8081, "TCP"]);
    if (ctx.mysql) {
        const db = podEndpoint(ctx, ctx.mysql);
        flows.push([INTERNET, db, 3306, "TCP"]);
        if (nginx) flows.push([nginx, db, 3306, "TCP"]);
    }
    return flows;
}

const flowName = ([src, dst, port, proto]) => `${src.name} -> ${dst.name}:${port}/${proto}`;

// ---- the rules --------------------------------------------------------------
// Each rule: check(ctx) returns its violations (strings; none = pass).

function eachPod(ctx, fn, workloads = ctx.workloads) {
    const out = [];
    for (const w of workloads) {
        const spec = podSpecOf(w);
        if (spec) fn(w, spec, (msg) => out.push(`${objectName(w)}: ${msg}`));
    }
    return out;
}

function eachContainer(ctx, fn, { init = true, workloads = ctx.workloads } = {}) {
    return eachPod(ctx, (w, spec, report) => {
        for (const { list, container } of containersOf(spec)) {
            if (list === "initContainers" && !init) continue;
            fn(w, spec, container, (msg) => report(`${list === "initContainers" ? "init " : ""}container ${container.name}: ${msg}`));
        }
    }, workloads);
}

const RULES = [
    {
        id: "inventory",
        title: "the agreed objects exist (namespace, service account, Deployments and Services of every service and nginx, nginx-internal)",
        check(ctx) {
            const out = [];
            if (!ctx.namespaces.some((n) => n.metadata?.name === NAMESPACE)) out.push(`no Namespace ${NAMESPACE}`);
            if (!ctx.serviceAccounts.some((s) => s.metadata?.name === "crm")) out.push("no ServiceAccount crm");
            for (const name of [...SERVICES, "nginx"]) {
                if (!ctx.deployment(name)) out.push(`no Deployment ${name}`);
                if (!ctx.services.some((s) => s.metadata?.name === name)) out.push(`no Service ${name}`);
            }
            if (!ctx.services.some((s) => s.metadata?.name === "nginx-internal")) out.push("no Service nginx-internal");
            return out;
        },
    },
    {
        id: "replicas",
        title: "every Deployment asks for 2 replicas or more",
        check: (ctx) => ctx.deployments.filter((d) => !((d.spec?.replicas ?? 1) >= 2))
            .map((d) => `${objectName(d)}: replicas ${d.spec?.replicas ?? "unset (1)"}`),
    },
    {
        id: "rolling-update",
        title: "every Deployment rolls with strategy RollingUpdate and maxUnavailable 0",
        check: (ctx) => ctx.deployments.flatMap((d) => {
            const s = d.spec?.strategy ?? {};
            const out = [];
            if ((s.type ?? "RollingUpdate") !== "RollingUpdate") out.push(`strategy ${s.type}`);
            const mu = s.rollingUpdate?.maxUnavailable;
            if (!(mu === 0 || mu === "0%")) out.push(`maxUnavailable ${mu ?? "unset (25%)"}, not 0`);
            return out.map((m) => `${objectName(d)}: ${m}`);
        }),
    },
    {
        id: "admin-probes",
        title: "service containers: readiness GET /readyz and liveness GET /healthz on the admin port (9100), with different settings",
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            const c = mainContainer(w);
            const r = c?.readinessProbe?.httpGet;
            const l = c?.livenessProbe?.httpGet;
            if (r?.path !== "/readyz" || portNumber(c, r?.port) !== ADMIN_PORT) {
                report(`readinessProbe is not httpGet /readyz on port ${ADMIN_PORT}`);
            }
            if (l?.path !== "/healthz" || portNumber(c, l?.port) !== ADMIN_PORT) {
                report(`livenessProbe is not httpGet /healthz on port ${ADMIN_PORT}`);
            }
            const rp = c?.readinessProbe ?? {};
            const lp = c?.livenessProbe ?? {};
            if ((rp.periodSeconds ?? 10) === (lp.periodSeconds ?? 10) && (rp.failureThreshold ?? 3) === (lp.failureThreshold ?? 3)) {
                report("readiness and liveness have the same periodSeconds and failureThreshold (liveness should be slower to act)");
            }
        }, ctx.serviceDeployments),
    },
    {
        id: "probes",
        title: "every container of every workload has readiness, liveness and startup probes",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            for (const p of ["readinessProbe", "livenessProbe", "startupProbe"]) if (!c[p]) report(`no ${p}`);
        }, { init: false }),
    },
    {
        id: "resources",
        title: "every container, init containers too, has requests and limits for cpu and memory",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            for (const kind of ["requests", "limits"]) {
                for (const r of ["cpu", "memory"]) {
                    if (c.resources?.[kind]?.[r] === undefined) report(`no ${kind}.${r}`);
                }
            }
        }),
    },
    {
        id: "topology-spread",
        title: "every Deployment spreads its pods over nodes (topologySpreadConstraints on kubernetes.io/hostname selecting its own pods)",
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            const labels = w.spec?.template?.metadata?.labels ?? {};
            const ok = (spec.topologySpreadConstraints ?? []).some((t) => t.topologyKey === "kubernetes.io/hostname" &&
                selects(t.labelSelector, labels));
            if (!ok) report("no topologySpreadConstraint on kubernetes.io/hostname whose labelSelector selects the pods");
        }, ctx.deployments),
    },
    {
        id: "prestop",
        title: "every Deployment's containers have a preStop hook",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            if (!c.lifecycle?.preStop) report("no lifecycle.preStop");
        }, { init: false, workloads: ctx.deployments }),
    },
    {
        id: "grace-period",
        title: "terminationGracePeriodSeconds exceeds the preStop delay plus CRM_DRAIN_SECONDS",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            const grace = spec.terminationGracePeriodSeconds ?? 30;
            const drain = Number(envValue(ctx, c, "CRM_DRAIN_SECONDS") ?? DRAIN_DEFAULT);
            const delay = preStopDelay(c);
            if (!(grace > delay + drain)) {
                report(`terminationGracePeriodSeconds ${grace} is not above preStop ${delay} s + CRM_DRAIN_SECONDS ${drain} s`);
            }
        }, { init: false, workloads: ctx.deployments }),
    },
    {
        id: "hpa",
        title: `every Deployment has an autoscaling/v2 HPA on its name: min ${HPA_MIN}, max ${HPA_MAX}, on CPU`,
        check: (ctx) => ctx.deployments.flatMap((d) => {
            const name = d.metadata?.name;
            const hpas = ctx.hpas.filter((h) => h.spec?.scaleTargetRef?.kind === "Deployment" && h.spec?.scaleTargetRef?.name === name &&
                (h.spec?.scaleTargetRef?.apiVersion ?? "apps/v1") === "apps/v1");
            if (hpas.length !== 1) return [`${objectName(d)}: ${hpas.length} HPAs target it, not 1`];
            const h = hpas[0];
            const out = [];
            if (h.apiVersion !== "autoscaling/v2") out.push(`apiVersion ${h.apiVersion}`);
            if (h.spec?.minReplicas !== HPA_MIN) out.push(`minReplicas ${h.spec?.minReplicas ?? "unset (1)"}, not ${HPA_MIN}`);
            if (h.spec?.maxReplicas !== HPA_MAX) out.push(`maxReplicas ${h.spec?.maxReplicas}, not ${HPA_MAX}`);
            if (!(h.spec?.metrics ?? []).some((m) => m.type === "Resource" && m.resource?.name === "cpu")) out.push("no CPU resource metric");
            return out.map((m) => `${objectName(h)}: ${m}`);
        }),
    },
    {
        id: "pdb",
        title: "every Deployment has one PodDisruptionBudget selecting its pods only, which lets one pod go at minimum scale",
        check: (ctx) => ctx.deployments.flatMap((d) => {
            const labels = d.spec?.template?.metadata?.labels ?? {};
            const pdbs = ctx.pdbs.filter((p) => selects(p.spec?.selector, labels));
            if (pdbs.length !== 1) return [`${objectName(d)}: ${pdbs.length} PodDisruptionBudgets select its pods, not 1`];
            const p = pdbs[0];
            const out = [];
            for (const other of ctx.workloads) {
                if (other !== d && selects(p.spec?.selector, other.spec?.template?.metadata?.labels ?? {})) {
                    out.push(`also selects the pods of ${objectName(other)}`);
                }
            }
            // At the HPA's minimum (2), an eviction must remain possible.
            const n = HPA_MIN;
            const pct = (v) => (typeof v === "string" && v.endsWith("%") ? Number(v.slice(0, -1)) / 100 : null);
            let canEvict;
            if (p.spec?.maxUnavailable !== undefined) {
                const v = p.spec.maxUnavailable;
                canEvict = (pct(v) !== null ? Math.ceil(pct(v) * n) : Number(v)) >= 1;
            } else if (p.spec?.minAvailable !== undefined) {
                const v = p.spec.minAvailable;
                canEvict = (pct(v) !== null ? Math.ceil(pct(v) * n) : Number(v)) < n;
            } else {
                canEvict = true; // neither: the API server refuses it; validate.mjs reports it
                out.push("neither minAvailable nor maxUnavailable");
            }
            if (!canEvict) out.push(`blocks every eviction at ${n} replicas (a node drain would hang)`);
            return out.map((m) => `${objectName(p)}: ${m}`);
        }),
    },
    {
        id: "migrate-init",
        title: "every service Deployment runs `migrate` with its own image in an init container",
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            const image = mainContainer(w)?.image;
            const ok = (spec.initContainers ?? []).some((c) => [...(c.command ?? []), ...(c.args ?? [])].includes("migrate") &&
                c.image === image);
            if (!ok) report("no init container running migrate with the service's image");
        }, ctx.serviceDeployments),
    },
    {
        id: "run-as-non-root",
        title: "Pod Security restricted: every container runs with runAsNonRoot true",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            if ((c.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot) !== true) report("runAsNonRoot is not true");
        }),
    },
    {
        id: "run-as-user",
        title: "every container runs as a set, non-zero runAsUser",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            const uid = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
            if (uid === undefined || uid === 0) report(`runAsUser ${uid ?? "unset"}`);
        }),
    },
    {
        id: "no-privilege-escalation",
        title: "Pod Security restricted: allowPrivilegeEscalation false, not privileged",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            if (c.securityContext?.allowPrivilegeEscalation !== false) report("allowPrivilegeEscalation is not false");
            if (c.securityContext?.privileged === true) report("privileged");
        }),
    },
    {
        id: "drop-all-capabilities",
        title: "Pod Security restricted: capabilities drop ALL (and add nothing but NET_BIND_SERVICE)",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            if (!(c.securityContext?.capabilities?.drop ?? []).includes("ALL")) report("capabilities.drop lacks ALL");
            const extra = (c.securityContext?.capabilities?.add ?? []).filter((a) => a !== "NET_BIND_SERVICE");
            if (extra.length) report(`capabilities.add ${extra.join(", ")}`);
        }),
    },
    {
        id: "seccomp",
        title: "Pod Security restricted: seccompProfile RuntimeDefault",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            const type = c.securityContext?.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type;
            if (type !== "RuntimeDefault") report(`seccompProfile ${type ?? "unset"}`);
        }),
    },
    {
        id: "read-only-root",
        title: "every container has readOnlyRootFilesystem true",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            if (c.securityContext?.readOnlyRootFilesystem !== true) report("readOnlyRootFilesystem is not true");
        }),
    },
    {
        id: "host-and-volumes",
        title: "Pod Security restricted: no host namespaces, host ports or hostPath, only the volume types allowed",
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (spec[f]) report(`${f} true`);
            for (const v of spec.volumes ?? []) {
                const type = Object.keys(v).find((k) => k !== "name");
                if (!RESTRICTED_VOLUMES.includes(type)) report(`volume ${v.name} is ${type}`);
            }
            for (const { container: c } of containersOf(spec)) {
                if ((c.ports ?? []).some((p) => p.hostPort)) report(`container ${c.name} uses a hostPort`);
            }
        }),
    },
    {
        id: "service-account",
        title: "every pod runs as ServiceAccount crm without a mounted token",
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            const saName = spec.serviceAccountName ?? "default";
            const sa = ctx.serviceAccounts.find((s) => s.metadata?.name === saName);
            if (saName !== "crm") report(`serviceAccountName ${saName}, not crm`);
            else if (!sa) report("ServiceAccount crm is not in the manifests");
            const mount = spec.automountServiceAccountToken ?? sa?.automountServiceAccountToken;
            if (mount !== false) report("automountServiceAccountToken is not false");
        }),
    },
    {
        id: "no-secret-env",
        title: "no secret reaches a container through its environment (no secretKeyRef, no envFrom secretRef)",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) report(`env ${e.name} comes from Secret ${e.valueFrom.secretKeyRef.name}`);
            for (const e of c.envFrom ?? []) if (e.secretRef) report(`envFrom Secret ${e.secretRef.name}`);
        }),
    },
    {
        id: "no-committed-secret",
        title: "no Secret with data or stringData is in the manifests",
        check: (ctx) => ctx.secrets.filter((s) => s.data || s.stringData).map((s) => `${objectName(s)} carries data`),
    },
    {
        id: "secret-refs",
        title: "pods mount only the agreed Secrets and keys, and a service only its own database Secret",
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            const sources = [];
            for (const v of spec.volumes ?? []) {
                if (v.secret) sources.push({ name: v.secret.secretName, items: v.secret.items });
                for (const s of v.projected?.sources ?? []) if (s.secret) sources.push({ name: s.secret.name, items: s.secret.items });
            }
            for (const s of sources) {
                const keys = SECRETS[s.name];
                if (!keys) {
                    report(`mounts Secret ${s.name}, not one of the agreed Secrets`);
                    continue;
                }
                for (const it of s.items ?? []) if (!keys.includes(it.key)) report(`Secret ${s.name} has no key ${it.key}`);
                const owner = /^crm-db-(.*)$/.exec(s.name)?.[1];
                if (owner && SERVICES.includes(owner) && SERVICES.includes(w.metadata?.name) && owner !== w.metadata?.name) {
                    report(`mounts another service's database Secret (${s.name})`);
                }
            }
        }),
    },
    {
        id: "namespace",
        title: `Namespace ${NAMESPACE} enforces Pod Security restricted and holds every object`,
        check(ctx) {
            const out = [];
            const ns = ctx.namespaces.find((n) => n.metadata?.name === NAMESPACE);
            const enforce = ns?.metadata?.labels?.["pod-security.kubernetes.io/enforce"];
            if (enforce !== "restricted") out.push(`Namespace ${NAMESPACE}: pod-security.kubernetes.io/enforce is ${enforce ?? "unset"}`);
            for (const o of ctx.objects) {
                if (!CLUSTER_SCOPED.has(o.kind) && o.metadata?.namespace !== NAMESPACE) {
                    out.push(`${objectName(o)}: namespace ${o.metadata?.namespace ?? "unset"}`);
                }
            }
            return out;
        },
    },
    {
        id: "default-deny",
        title: "a NetworkPolicy denies all ingress and egress by default (podSelector {}, both types, no rules)",
        check(ctx) {
            const ok = ctx.policies.some((np) => {
                const sel = np.spec?.podSelector ?? {};
                const types = np.spec?.policyTypes ?? [];
                return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0 &&
                    types.includes("Ingress") && types.includes("Egress") &&
                    (np.spec?.ingress ?? []).length === 0 && (np.spec?.egress ?? []).length === 0;
            });
            return ok ? [] : ["no default-deny NetworkPolicy"];
        },
    },
    {
        id: "network-allows",
        title: "NetworkPolicies allow what the platform needs (nginx->9000, services->mysql 3306, DNS 53, services->nginx 8081, ->nginx 8443, prometheus->9100)",
        check: (ctx) => requiredFlows(ctx).flatMap((f) => {
            const r = allowed(ctx.policies, ...f);
            if (r.allowed) return [];
            return [`${flowName(f)} is blocked (${[!r.egress && "egress", !r.ingress && "ingress"].filter(Boolean).join(" and ")})`];
        }),
    },
    {
        id: "network-isolation",
        title: "NetworkPolicies keep the rest closed (outside->9000/9100/8081/3306, service->service, nginx->mysql)",
        check: (ctx) => forbiddenFlows(ctx).filter((f) => allowed(ctx.policies, ...f).allowed).map((f) => `${flowName(f)} is allowed`),
    },
    {
        id: "prometheus-scrape",
        title: `service pods carry prometheus.io/scrape "true" and prometheus.io/port "${ADMIN_PORT}"`,
        check: (ctx) => eachPod(ctx, (w, spec, report) => {
            const a = w.spec?.template?.metadata?.annotations ?? {};
            if (a["prometheus.io/scrape"] !== "true") report("prometheus.io/scrape is not \"true\"");
            if (a["prometheus.io/port"] !== String(ADMIN_PORT)) report(`prometheus.io/port is ${a["prometheus.io/port"] ?? "unset"}`);
        }, ctx.serviceDeployments),
    },
    {
        id: "nginx-loadbalancer",
        title: "Service nginx is a LoadBalancer to port 8443",
        check(ctx) {
            const s = ctx.services.find((x) => x.metadata?.name === "nginx");
            if (!s) return ["no Service nginx"];
            const out = [];
            if (s.spec?.type !== "LoadBalancer") out.push(`type ${s.spec?.type ?? "ClusterIP"}`);
            const c = ctx.nginx && mainContainer(ctx.nginx);
            if (!(s.spec?.ports ?? []).some((p) => portNumber(c, p.targetPort ?? p.port) === 8443)) out.push("no port to 8443");
            return out.map((m) => `${objectName(s)}: ${m}`);
        },
    },
    {
        id: "service-wiring",
        title: "every Service selects the pods of a workload and targets ports they have; only nginx is exposed",
        check: (ctx) => ctx.services.flatMap((s) => {
            const out = [];
            const sel = s.spec?.selector ?? {};
            const ws = ctx.workloads.filter((w) => Object.keys(sel).length > 0 && selects({ matchLabels: sel }, w.spec?.template?.metadata?.labels));
            if (ws.length === 0) out.push("selects no workload's pods");
            for (const p of s.spec?.ports ?? []) {
                const target = p.targetPort ?? p.port;
                for (const w of ws) {
                    const has = (podSpecOf(w)?.containers ?? []).some((c) => portNumber(c, target) !== undefined &&
                        (typeof target === "string" || (c.ports ?? []).some((cp) => cp.containerPort === target)));
                    if (!has) out.push(`port ${p.name ?? p.port}: ${objectName(w)} has no port ${target}`);
                }
            }
            if (s.metadata?.name !== "nginx" && (s.spec?.type ?? "ClusterIP") !== "ClusterIP") out.push(`type ${s.spec.type}`);
            return out.map((m) => `${objectName(s)}: ${m}`);
        }),
    },
    {
        id: "servicemonitor",
        title: "a ServiceMonitor (if any) selects the four services' Services, on a port each of them names",
        check: (ctx) => ctx.objects.filter((o) => o.kind === "ServiceMonitor").flatMap((m) => {
            const out = [];
            const picked = ctx.services.filter((s) => selects(m.spec?.selector ?? {}, s.metadata?.labels ?? {}) &&
                (m.spec?.namespaceSelector?.matchNames ?? [m.metadata?.namespace]).includes(s.metadata?.namespace));
            for (const name of SERVICES) {
                if (!picked.some((s) => s.metadata?.name === name)) out.push(`does not select Service ${name}`);
            }
            for (const e of m.spec?.endpoints ?? []) {
                for (const s of picked) {
                    if (!(s.spec?.ports ?? []).some((p) => p.name === e.port)) out.push(`Service ${s.metadata?.name} has no port named ${e.port}`);
                }
            }
            return out.map((x) => `${objectName(m)}: ${x}`);
        }),
    },
    {
        id: "images",
        title: "the crm containers run crm-<name> images with a pinned tag (never latest), init containers the service's own",
        check: (ctx) => eachContainer(ctx, (w, spec, c, report) => {
            const name = w.metadata?.name;
            if (![...SERVICES, "nginx"].includes(name)) return;
            const m = /(^|\/)crm-([a-z]+):([^:/@]+)$/.exec(c.image ?? "");
            if (!m) report(`image ${c.image} is not crm-<name>:<tag>`);
            else if (m[2] !== name) report(`image ${c.image} is not crm-${name}`);
            else if (m[3] === "latest") report(`image ${c.image} is not pinned`);
        }),
    },
];

// ---- the mutations ----------------------------------------------------------
// Each breaks one thing a rule checks on a copy of the manifests and names
// the rule that must notice. apply(ctx) returns what it did, or null when
// the manifests lack what it would break (then it is MISSED too).

const first = (list) => list[0];
const svc0 = (ctx) => first(ctx.serviceDeployments);
const svcLast = (ctx) => ctx.serviceDeployments[ctx.serviceDeployments.length - 1];
const podOf = (w) => podSpecOf(w);
function allContainers(w) {
    return containersOf(podSpecOf(w) ?? {}).map((x) => x.container);
}
function dropKey(obj, key) {
    if (!obj || !(key in obj)) return false;
    delete obj[key];
    return true;
}
// For mutations that swap one service's thing for another's.
const twoServices = (ctx) => ctx.serviceDeployments.length >= 2;
function flowMutation(rule, pick, label) {
    return {
        rule,
        what: `remove every NetworkPolicy rule allowing ${label}`,
        apply(ctx) {
            const f = pick(ctx);
            if (!f) return null;
            const n = removeAdmittingRules(ctx.policies, ...f);
            return n ? `${flowName(f)}: ${n} rule(s) removed` : null;
        },
    };
}

const MUTATIONS = [
    { rule: "inventory", what: "delete the last service's Deployment", apply(ctx) {
        const d = svcLast(ctx);
        if (!d) return null;
        ctx.objects.splice(ctx.objects.indexOf(d), 1);
        return objectName(d);
    } },
    { rule: "inventory", what: "delete Service nginx-internal", apply(ctx) {
        const s = ctx.services.find((x) => x.metadata?.name === "nginx-internal");
        if (!s) return null;
        ctx.objects.splice(ctx.objects.indexOf(s), 1);
        return objectName(s);
    } },
    { rule: "replicas", what: "remove spec.replicas of a service Deployment", apply: (ctx) => dropKey(svc0(ctx)?.spec, "replicas") ? objectName(svc0(ctx)) : null },
    { rule: "rolling-update", what: "remove rollingUpdate.maxUnavailable", apply: (ctx) => dropKey(svc0(ctx)?.spec?.strategy?.rollingUpdate, "maxUnavailable") ? objectName(svc0(ctx)) : null },
    { rule: "rolling-update", what: "switch nginx to strategy Recreate", apply(ctx) {
        if (!ctx.nginx) return null;
        ctx.nginx.spec.strategy = { type: "Recreate" };
        return objectName(ctx.nginx);
    } },
    { rule: "admin-probes", what: "remove a service container's readinessProbe", apply: (ctx) => dropKey(mainContainer(svc0(ctx) ?? {}), "readinessProbe") ? objectName(svc0(ctx)) : null },
    { rule: "admin-probes", what: "point the liveness probe at /readyz", apply(ctx) {
        const g = mainContainer(svcLast(ctx) ?? {})?.livenessProbe?.httpGet;
        if (!g) return null;
        g.path = "/readyz";
        return objectName(svcLast(ctx));
    } },
    { rule: "admin-probes", what: "point the readiness probe at the FastCGI port", apply(ctx) {
        const g = mainContainer(svc0(ctx) ?? {})?.readinessProbe?.httpGet;
        if (!g) return null;
        g.port = FASTCGI_PORT;
        return objectName(svc0(ctx));
    } },
    { rule: "admin-probes", what: "give liveness the readiness probe's periodSeconds and failureThreshold", apply(ctx) {
        const c = mainContainer(svc0(ctx) ?? {});
        if (!c?.readinessProbe || !c?.livenessProbe) return null;
        c.livenessProbe.periodSeconds = c.readinessProbe.periodSeconds ?? 10;
        c.livenessProbe.failureThreshold = c.readinessProbe.failureThreshold ?? 3;
        return objectName(svc0(ctx));
    } },
    { rule: "probes", what: "remove nginx's readinessProbe", apply: (ctx) => dropKey(mainContainer(ctx.nginx ?? {}), "readinessProbe") ? objectName(ctx.nginx) : null },
    { rule: "probes", what: "remove a service container's startupProbe", apply: (ctx) => dropKey(mainContainer(svcLast(ctx) ?? {}), "startupProbe") ? objectName(svcLast(ctx)) : null },
    { rule: "resources", what: "remove the migrate init container's limits.memory", apply(ctx) {
        const c = first(podOf(svc0(ctx) ?? {})?.initContainers ?? []);
        return dropKey(c?.resources?.limits, "memory") ? `${objectName(svc0(ctx))} init ${c.name}` : null;
    } },
    { rule: "resources", what: "remove nginx's requests.cpu", apply: (ctx) => dropKey(mainContainer(ctx.nginx ?? {})?.resources?.requests, "cpu") ? objectName(ctx.nginx) : null },
    { rule: "resources", what: "remove a service container's limits.cpu", apply: (ctx) => dropKey(mainContainer(svcLast(ctx) ?? {})?.resources?.limits, "cpu") ? objectName(svcLast(ctx)) : null },
    { rule: "topology-spread", what: "spread over zones instead of hostnames", apply(ctx) {
        const ts = podOf(svc0(ctx) ?? {})?.topologySpreadConstraints;
        if (!ts?.length) return null;
        for (const t of ts) t.topologyKey = "topology.kubernetes.io/zone";
        return objectName(svc0(ctx));
    } },
    { rule: "topology-spread", what: "make the constraint's labelSelector select other pods", apply(ctx) {
        const ts = podOf(ctx.nginx ?? {})?.topologySpreadConstraints;
        if (!ts?.length) return null;
        for (const t of ts) t.labelSelector = { matchLabels: { "app.kubernetes.io/name": "no-such-app" } };
        return objectName(ctx.nginx);
    } },
    { rule: "prestop", what: "remove a service container's preStop hook", apply: (ctx) => dropKey(mainContainer(svc0(ctx) ?? {})?.lifecycle, "preStop") ? objectName(svc0(ctx)) : null },
    { rule: "prestop", what: "remove nginx's preStop hook", apply: (ctx) => dropKey(mainContainer(ctx.nginx ?? {})?.lifecycle, "preStop") ? objectName(ctx.nginx) : null },
    { rule: "grace-period", what: "set terminationGracePeriodSeconds to CRM_DRAIN_SECONDS (no room for preStop)", apply(ctx) {
        const d = svc0(ctx);
        const c = mainContainer(d ?? {});
        if (!c) return null;
        podOf(d).terminationGracePeriodSeconds = Number(envValue(ctx, c, "CRM_DRAIN_SECONDS") ?? DRAIN_DEFAULT);
        return objectName(d);
    } },
    { rule: "grace-period", what: "raise CRM_DRAIN_SECONDS to the grace period", apply(ctx) {
        const d = svcLast(ctx);
        const c = mainContainer(d ?? {});
        if (!c) return null;
        const grace = podOf(d).terminationGracePeriodSeconds ?? 30;
        c.env = (c.env ?? []).filter((e) => e.name !== "CRM_DRAIN_SECONDS");
        c.env.push({ name: "CRM_DRAIN_SECONDS", value: String(grace) });
        return objectName(d);
    } },
    { rule: "hpa", what: "delete a service's HPA", apply(ctx) {
        const h = ctx.hpas.find((x) => x.spec?.scaleTargetRef?.name === svc0(ctx)?.metadata?.name);
        if (!h) return null;
        ctx.objects.splice(ctx.objects.indexOf(h), 1);
        return objectName(h);
    } },
    { rule: "hpa", what: "remove an HPA's minReplicas", apply(ctx) {
        const h = ctx.hpas.find((x) => x.spec?.scaleTargetRef?.name === "nginx");
        return dropKey(h?.spec, "minReplicas") ? objectName(h) : null;
    } },
    { rule: "hpa", what: "lower an HPA's maxReplicas to 10", apply(ctx) {
        const h = ctx.hpas.find((x) => x.spec?.scaleTargetRef?.name === svcLast(ctx)?.metadata?.name);
        if (!h) return null;
        h.spec.maxReplicas = 10;
        return objectName(h);
    } },
    { rule: "hpa", what: "scale on memory instead of CPU", apply(ctx) {
        const h = ctx.hpas.find((x) => x.spec?.scaleTargetRef?.name === svc0(ctx)?.metadata?.name);
        if (!h?.spec?.metrics) return null;
        h.spec.metrics = [{ type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } }];
        return objectName(h);
    } },
    { rule: "hpa", what: "point an HPA at a misspelt Deployment", apply(ctx) {
        const h = ctx.hpas.find((x) => x.spec?.scaleTargetRef?.name === svcLast(ctx)?.metadata?.name);
        if (!h) return null;
        h.spec.scaleTargetRef.name += "s";
        return objectName(h);
    } },
    { rule: "pdb", what: "delete a service's PodDisruptionBudget", apply(ctx) {
        const labels = svc0(ctx)?.spec?.template?.metadata?.labels ?? {};
        const p = ctx.pdbs.find((x) => selects(x.spec?.selector, labels));
        if (!p) return null;
        ctx.objects.splice(ctx.objects.indexOf(p), 1);
        return objectName(p);
    } },
    { rule: "pdb", what: "make a PodDisruptionBudget select no pods", apply(ctx) {
        const labels = ctx.nginx?.spec?.template?.metadata?.labels ?? {};
        const p = ctx.pdbs.find((x) => selects(x.spec?.selector, labels));
        if (!p) return null;
        p.spec.selector = { matchLabels: { "app.kubernetes.io/name": "no-such-app" } };
        return objectName(p);
    } },
    { rule: "pdb", what: "make a PodDisruptionBudget keep 2 of 2 pods (minAvailable 2)", apply(ctx) {
        const labels = svcLast(ctx)?.spec?.template?.metadata?.labels ?? {};
        const p = ctx.pdbs.find((x) => selects(x.spec?.selector, labels));
        if (!p) return null;
        delete p.spec.maxUnavailable;
        p.spec.minAvailable = HPA_MIN;
        return objectName(p);
    } },
    { rule: "migrate-init", what: "remove a service's init containers", apply: (ctx) => dropKey(podOf(svc0(ctx) ?? {}), "initContainers") ? objectName(svc0(ctx)) : null },
    { rule: "migrate-init", what: "make the init container serve instead of migrate", apply(ctx) {
        const c = first(podOf(svcLast(ctx) ?? {})?.initContainers ?? []);
        if (!c) return null;
        c.command = ["/usr/local/bin/crm"];
        c.args = ["serve"];
        return objectName(svcLast(ctx));
    } },
    { rule: "run-as-non-root", what: "remove runAsNonRoot from a pod and its containers", apply(ctx) {
        const d = svc0(ctx);
        if (!d) return null;
        let n = dropKey(podOf(d).securityContext, "runAsNonRoot");
        for (const c of allContainers(d)) n = dropKey(c.securityContext, "runAsNonRoot") || n;
        return n ? objectName(d) : null;
    } },
    { rule: "run-as-user", what: "run nginx as uid 0", apply(ctx) {
        const d = ctx.nginx;
        if (!d) return null;
        podOf(d).securityContext = { ...(podOf(d).securityContext ?? {}), runAsUser: 0 };
        for (const c of allContainers(d)) dropKey(c.securityContext, "runAsUser");
        return objectName(d);
    } },
    { rule: "run-as-user", what: "remove runAsUser from a pod and its containers", apply(ctx) {
        const d = svcLast(ctx);
        if (!d) return null;
        let n = dropKey(podOf(d).securityContext, "runAsUser");
        for (const c of allContainers(d)) n = dropKey(c.securityContext, "runAsUser") || n;
        return n ? objectName(d) : null;
    } },
    { rule: "no-privilege-escalation", what: "remove allowPrivilegeEscalation from an init container", apply(ctx) {
        const c = first(podOf(svc0(ctx) ?? {})?.initContainers ?? []);
        return dropKey(c?.securityContext, "allowPrivilegeEscalation") ? `${objectName(svc0(ctx))} init ${c.name}` : null;
    } },
    { rule: "drop-all-capabilities", what: "remove nginx's capabilities.drop", apply: (ctx) => dropKey(mainContainer(ctx.nginx ?? {})?.securityContext?.capabilities, "drop") ? objectName(ctx.nginx) : null },
    { rule: "drop-all-capabilities", what: "add NET_ADMIN to a service container", apply(ctx) {
        const c = mainContainer(svc0(ctx) ?? {});
        if (!c?.securityContext?.capabilities) return null;
        c.securityContext.capabilities.add = ["NET_ADMIN"];
        return objectName(svc0(ctx));
    } },
    { rule: "seccomp", what: "remove seccompProfile from a pod and its containers", apply(ctx) {
        const d = svcLast(ctx);
        if (!d) return null;
        let n = dropKey(podOf(d).securityContext, "seccompProfile");
        for (const c of allContainers(d)) n = dropKey(c.securityContext, "seccompProfile") || n;
        return n ? objectName(d) : null;
    } },
    { rule: "read-only-root", what: "remove a service container's readOnlyRootFilesystem", apply: (ctx) => dropKey(mainContainer(svc0(ctx) ?? {})?.securityContext, "readOnlyRootFilesystem") ? objectName(svc0(ctx)) : null },
    { rule: "read-only-root", what: "remove an init container's readOnlyRootFilesystem", apply(ctx) {
        const c = first(podOf(svcLast(ctx) ?? {})?.initContainers ?? []);
        return dropKey(c?.securityContext, "readOnlyRootFilesystem") ? `${objectName(svcLast(ctx))} init ${c.name}` : null;
    } },
    { rule: "host-and-volumes", what: "put nginx on the host network", apply(ctx) {
        if (!ctx.nginx) return null;
        podOf(ctx.nginx).hostNetwork = true;
        return objectName(ctx.nginx);
    } },
    { rule: "host-and-volumes", what: "add a hostPath volume", apply(ctx) {
        const d = svc0(ctx);
        if (!d) return null;
        podOf(d).volumes = [...(podOf(d).volumes ?? []), { name: "host", hostPath: { path: "/var/run" } }];
        return objectName(d);
    } },
    { rule: "service-account", what: "remove a pod's serviceAccountName (the default account)", apply: (ctx) => dropKey(podOf(svcLast(ctx) ?? {}), "serviceAccountName") ? objectName(svcLast(ctx)) : null },
    { rule: "service-account", what: "mount the token (pod and account)", apply(ctx) {
        const d = svc0(ctx);
        if (!d) return null;
        podOf(d).automountServiceAccountToken = true;
        return objectName(d);
    } },
    { rule: "no-secret-env", what: "read the database password from a secretKeyRef", apply(ctx) {
        const c = mainContainer(svc0(ctx) ?? {});
        if (!c) return null;
        c.env = [...(c.env ?? []), { name: "CRM_DB_PASSWORD", valueFrom: { secretKeyRef: { name: `crm-db-${svc0(ctx).metadata.name}`, key: "password" } } }];
        return objectName(svc0(ctx));
    } },
    { rule: "no-secret-env", what: "take the environment from a Secret (envFrom secretRef)", apply(ctx) {
        const c = mainContainer(ctx.nginx ?? {});
        if (!c) return null;
        c.envFrom = [...(c.envFrom ?? []), { secretRef: { name: "crm-tls" } }];
        return objectName(ctx.nginx);
    } },
    { rule: "no-committed-secret", what: "commit a Secret with stringData", apply(ctx) {
        ctx.objects.push({ apiVersion: "v1", kind: "Secret", metadata: { name: "crm-event-key", namespace: NAMESPACE }, stringData: { key: "not-a-secret" } });
        return "Secret/crm-event-key";
    } },
    { rule: "secret-refs", what: "mount another service's database Secret", needs: twoServices, apply(ctx) {
        const [a, b] = ctx.serviceDeployments;
        const v = (podOf(a ?? {})?.volumes ?? []).find((x) => x.secret?.secretName === `crm-db-${a?.metadata?.name}`);
        if (!v || !b) return null;
        v.secret.secretName = `crm-db-${b.metadata.name}`;
        return objectName(a);
    } },
    { rule: "secret-refs", what: "misspell a Secret's name", apply(ctx) {
        const v = (podOf(ctx.nginx ?? {})?.volumes ?? []).find((x) => x.secret);
        if (!v) return null;
        v.secret.secretName += "-x";
        return objectName(ctx.nginx);
    } },
    { rule: "namespace", what: "remove the pod-security enforce label", apply(ctx) {
        const ns = ctx.namespaces.find((n) => n.metadata?.name === NAMESPACE);
        return dropKey(ns?.metadata?.labels, "pod-security.kubernetes.io/enforce") ? objectName(ns) : null;
    } },
    { rule: "namespace", what: "enforce baseline instead of restricted", apply(ctx) {
        const ns = ctx.namespaces.find((n) => n.metadata?.name === NAMESPACE);
        if (!ns?.metadata?.labels) return null;
        ns.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline";
        return objectName(ns);
    } },
    { rule: "namespace", what: "drop an object's namespace", apply: (ctx) => dropKey(first(ctx.pdbs)?.metadata, "namespace") ? objectName(first(ctx.pdbs)) : null },
    { rule: "default-deny", what: "delete the default-deny NetworkPolicy", apply(ctx) {
        const np = ctx.policies.find((p) => Object.keys(p.spec?.podSelector?.matchLabels ?? {}).length === 0 &&
            !(p.spec?.podSelector?.matchExpressions ?? []).length && !(p.spec?.ingress ?? []).length && !(p.spec?.egress ?? []).length);
        if (!np) return null;
        ctx.objects.splice(ctx.objects.indexOf(np), 1);
        return objectName(np);
    } },
    { rule: "default-deny", what: "make default-deny cover Ingress only", apply(ctx) {
        const np = ctx.policies.find((p) => Object.keys(p.spec?.podSelector?.matchLabels ?? {}).length === 0 &&
            !(p.spec?.ingress ?? []).length && !(p.spec?.egress ?? []).length);
        if (!np) return null;
        np.spec.policyTypes = ["Ingress"];
        return objectName(np);
    } },
    flowMutation("network-allows", (ctx) => ctx.nginx && svc0(ctx) && [podEndpoint(ctx, ctx.nginx), podEndpoint(ctx, svc0(ctx)), FASTCGI_PORT, "TCP"], "nginx -> a service on 9000"),
    flowMutation("network-allows", (ctx) => svcLast(ctx) && [podEndpoint(ctx, svcLast(ctx)), ctx.mysql ? podEndpoint(ctx, ctx.mysql) : EXTERNAL_DB, 3306, "TCP"], "a service -> the database on 3306"),
    flowMutation("network-allows", (ctx) => svc0(ctx) && [podEndpoint(ctx, svc0(ctx)), DNS, 53, "UDP"], "a service -> DNS on 53/UDP"),
    flowMutation("network-allows", (ctx) => ctx.nginx && svc0(ctx) && [podEndpoint(ctx, svc0(ctx)), podEndpoint(ctx, ctx.nginx), 8081, "TCP"], "a service -> nginx on 8081"),
    flowMutation("network-allows", (ctx) => ctx.nginx && [INTERNET, podEndpoint(ctx, ctx.nginx), 8443, "TCP"], "the outside -> nginx on 8443"),
    flowMutation("network-allows", (ctx) => svcLast(ctx) && [PROMETHEUS, podEndpoint(ctx, svcLast(ctx)), ADMIN_PORT, "TCP"], "prometheus -> a service on 9100"),
    flowMutation("network-allows", (ctx) => ctx.nginx && [podEndpoint(ctx, ctx.nginx), DNS, 53, "UDP"], "nginx -> DNS on 53/UDP"),
    { rule: "network-isolation", what: "add a NetworkPolicy allowing all ingress to every pod", apply(ctx) {
        ctx.objects.push({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "allow-all", namespace: NAMESPACE },
            spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{}] } });
        return "NetworkPolicy/allow-all";
    } },
    { rule: "network-isolation", what: "open a service's ingress to every port", apply(ctx) {
        const svc = svc0(ctx) && podEndpoint(ctx, svc0(ctx));
        const nginx = ctx.nginx && podEndpoint(ctx, ctx.nginx);
        if (!svc || !nginx) return null;
        let n = 0;
        for (const np of ctx.policies) {
            if (np.spec?.ingress && selects(np.spec.podSelector ?? {}, svc.labels)) {
                for (const r of np.spec.ingress) {
                    delete r.ports;
                    delete r.from;
                    n++;
                }
            }
        }
        return n ? `${n} ingress rule(s) of ${svc.name} opened` : null;
    } },
    { rule: "prometheus-scrape", what: "remove the prometheus.io/scrape annotation", apply: (ctx) => dropKey(svc0(ctx)?.spec?.template?.metadata?.annotations, "prometheus.io/scrape") ? objectName(svc0(ctx)) : null },
    { rule: "prometheus-scrape", what: "point prometheus.io/port at 9000", apply(ctx) {
        const a = svcLast(ctx)?.spec?.template?.metadata?.annotations;
        if (!a?.["prometheus.io/port"]) return null;
        a["prometheus.io/port"] = String(FASTCGI_PORT);
        return objectName(svcLast(ctx));
    } },
    { rule: "nginx-loadbalancer", what: "remove Service nginx's type (ClusterIP)", apply(ctx) {
        const s = ctx.services.find((x) => x.metadata?.name === "nginx");
        return dropKey(s?.spec, "type") ? objectName(s) : null;
    } },
    { rule: "service-wiring", what: "make a Service's selector match no pods", apply(ctx) {
        const s = ctx.services.find((x) => x.metadata?.name === svc0(ctx)?.metadata?.name);
        if (!s?.spec?.selector) return null;
        const k = Object.keys(s.spec.selector)[0];
        s.spec.selector[k] += "-x";
        return objectName(s);
    } },
    { rule: "service-wiring", what: "target a port the pods lack", apply(ctx) {
        const s = ctx.services.find((x) => x.metadata?.name === "nginx-internal");
        const p = first(s?.spec?.ports ?? []);
        if (!p) return null;
        p.targetPort = 8082;
        return objectName(s);
    } },
    { rule: "servicemonitor", what: "scrape a port the Services do not name", needs: (ctx) => ctx.objects.some((o) => o.kind === "ServiceMonitor"), apply(ctx) {
        const m = ctx.objects.find((o) => o.kind === "ServiceMonitor");
        const e = first(m.spec?.endpoints ?? []);
        if (!e) return null;
        e.port = "metrics";
        return objectName(m);
    } },
    { rule: "images", what: "run a service on :latest", apply(ctx) {
        const c = mainContainer(svc0(ctx) ?? {});
        if (!c?.image) return null;
        c.image = c.image.replace(/:[^:/]+$/, ":latest");
        return objectName(svc0(ctx));
    } },
    { rule: "images", what: "give an init container another service's image", needs: twoServices, apply(ctx) {
        const [a, b] = ctx.serviceDeployments;
        const c = first(podOf(a ?? {})?.initContainers ?? []);
        if (!c || !b) return null;
        c.image = mainContainer(b).image;
        return `${objectName(a)} init ${c.name}`;
    } },
];

// ---- running ----------------------------------------------------------------

function runRules(objects) {
    const ctx = context(objects);
    return RULES.map((r) => ({ rule: r, violations: r.check(ctx) }));
}

function checkFile(file, objects) {
    let failed = 0;
    for (const { rule, violations } of runRules(objects)) {
        if (violations.length === 0) {
            console.log(`ok    ${file}: ${rule.id}: ${rule.title}`);
        } else {
            failed++;
            console.log(`FAIL  ${file}: ${rule.id}: ${rule.title}`);
            for (const v of violations) console.log(`        ${v}`);
        }
    }
    return failed;
}

function mutateFile(file, objects) {
    const baseline = new Map(runRules(objects).map(({ rule, violations }) => [rule.id, new Set(violations)]));
    let caught = 0;
    let total = 0;
    for (const m of MUTATIONS) {
        const copy = structuredClone(objects);
        if (m.needs && !m.needs(context(copy))) {
            console.log(`skipped ${file}: ${m.rule}: ${m.what}: not for these manifests (too few services, or no ServiceMonitor)`);
            continue;
        }
        total++;
        const did = m.apply(context(copy));
        if (!did) {
            console.log(`MISSED  ${file}: ${m.rule}: ${m.what}: not applicable (the manifests lack what it breaks)`);
            continue;
        }
        const rule = RULES.find((r) => r.id === m.rule);
        const fresh = rule.check(context(copy)).filter((v) => !baseline.get(rule.id).has(v));
        if (fresh.length > 0) {
            caught++;
            console.log(`caught  ${file}: ${m.rule}: ${m.what} (${did}) -> ${fresh[0]}`);
        } else if (baseline.get(rule.id).size > 0) {
            console.log(`MISSED  ${file}: ${m.rule}: ${m.what} (${did}): nothing new (the rule fails on the unchanged manifests already)`);
        } else {
            console.log(`MISSED  ${file}: ${m.rule}: ${m.what} (${did}): the rule reported nothing`);
        }
    }
    const uncovered = RULES.filter((r) => !MUTATIONS.some((m) => m.rule === r.id)).map((r) => r.id);
    if (uncovered.length) console.log(`MISSED  ${file}: rules without a mutation: ${uncovered.join(", ")}`);
    console.log(`${file}: ${caught} of ${total} mutations caught (${RULES.length} rules)`);
    return caught === total && uncovered.length === 0 ? 0 : 1;
}

function main(argv) {
    if (argv[0] === "--list") {
        for (const r of RULES) {
            console.log(`${r.id}: ${r.title}`);
            for (const m of MUTATIONS.filter((x) => x.rule === r.id)) console.log(`    mutation: ${m.what}`);
        }
        return 0;
    }
    const mutate = argv[0] === "--mutate";
    const files = mutate ? argv.slice(1) : argv;
    if (files.length === 0) {
        console.error("usage: node policy.mjs [--mutate] FILE... | --list");
        return 2;
    }
    let bad = 0;
    for (const file of files) {
        let objects;
        try {
            objects = loadObjects(file);
        } catch (e) {
            console.error(`policy: ${e.message}`);
            return 2;
        }
        bad += mutate ? mutateFile(file, objects) : checkFile(file, objects);
    }
    return bad ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
