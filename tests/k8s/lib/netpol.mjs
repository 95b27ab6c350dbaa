// A small NetworkPolicy evaluator (networking.k8s.io/v1 semantics), enough
// to ask "may this pod reach that pod on this port?" of rendered manifests.
//
// An endpoint is one of:
//   { ns, labels, nsLabels, ports }   a pod (ports: its containers' ports,
//                                     for named ports)
//   { external: true, ip }            an address outside the cluster; with
//                                     no ip, any ipBlock admits it (an
//                                     external database whose address is
//                                     the operator's)
// Traffic is allowed when the source's egress allows it and the
// destination's ingress allows it. A side no policy of ours selects (a pod
// of another namespace, an address outside) is not isolated on that side.

// Does a LabelSelector select LABELS? An empty selector selects all.
export function selects(selector, labels) {
    if (!selector) return false;
    labels = labels ?? {};
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
        if (labels[k] !== v) return false;
    }
    for (const e of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const values = e.values ?? [];
        switch (e.operator) {
        case "In":
            if (!has || !values.includes(labels[e.key])) return false;
            break;
        case "NotIn":
            if (has && values.includes(labels[e.key])) return false;
            break;
        case "Exists":
            if (!has) return false;
            break;
        case "DoesNotExist":
            if (has) return false;
            break;
        default:
            return false;
        }
    }
    return true;
}

function ipToInt(ip) {
    const p = ip.split(".").map(Number);
    return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3];
}

function inCidr(ip, cidr) {
    if (!cidr.includes(".")) return false; // IPv6 blocks: not modelled
    const [base, bits] = cidr.split("/");
    const n = Number(bits);
    const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
    return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(base) & mask) >>> 0);
}

// Does a NetworkPolicyPeer of a policy in POLICY_NS admit endpoint EP?
function peerAdmits(peer, policyNs, ep) {
    if (peer.ipBlock) {
        if (!ep.external) return false;
        if (ep.ip === undefined) return true;
        return inCidr(ep.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(ep.ip, c));
    }
    if (ep.external) return false;
    if (peer.namespaceSelector) {
        if (!selects(peer.namespaceSelector, ep.nsLabels)) return false;
    } else if (ep.ns !== policyNs) {
        return false;
    }
    return peer.podSelector ? selects(peer.podSelector, ep.labels) : true;
}

// Does a rule's port list admit PORT/PROTO to endpoint DST (named ports
// are the destination's)?
function portsAdmit(ports, dst, port, proto) {
    if (!ports || ports.length === 0) return true;
    return ports.some((p) => {
        if ((p.protocol ?? "TCP") !== proto) return false;
        if (p.port === undefined) return true;
        if (typeof p.port === "string") {
            return !dst.external && (dst.ports ?? []).some((cp) => cp.name === p.port && cp.containerPort === port &&
                (cp.protocol ?? "TCP") === proto);
        }
        return p.endPort !== undefined ? port >= p.port && port <= p.endPort : p.port === port;
    });
}

function policyTypes(np) {
    if (np.spec?.policyTypes) return np.spec.policyTypes;
    return np.spec?.egress ? ["Ingress", "Egress"] : ["Ingress"];
}

// The policies that select pod EP for DIRECTION ("Ingress" or "Egress").
export function policiesFor(policies, ep, direction) {
    if (ep.external) return [];
    return policies.filter((np) => (np.metadata?.namespace ?? ep.ns) === ep.ns &&
        selects(np.spec?.podSelector ?? {}, ep.labels) && policyTypes(np).includes(direction));
}

// The rules (each with its policy) that let SRC reach DST:PORT/PROTO on one
// side: "Egress" (SRC's policies) or "Ingress" (DST's). isolated is false
// when no policy selects that side's pod (then everything is allowed).
export function admittingRules(policies, src, dst, port, proto, direction) {
    const self = direction === "Egress" ? src : dst;
    const other = direction === "Egress" ? dst : src;
    const applying = policiesFor(policies, self, direction);
    const rules = [];
    for (const np of applying) {
        const list = direction === "Egress" ? np.spec?.egress : np.spec?.ingress;
        for (const rule of list ?? []) {
            const peers = direction === "Egress" ? rule.to : rule.from;
            const peerOk = !peers || peers.length === 0 ||
                peers.some((p) => other.any || peerAdmits(p, np.metadata?.namespace ?? self.ns, other));
            if (peerOk && portsAdmit(rule.ports, dst, port, proto)) rules.push({ np, rule, list });
        }
    }
    return { isolated: applying.length > 0, rules };
}

// May SRC reach DST on PORT/PROTO? { allowed, egress, ingress } with the
// reason of each side.
export function allowed(policies, src, dst, port, proto = "TCP") {
    const sides = {};
    for (const direction of ["Egress", "Ingress"]) {
        const r = admittingRules(policies, src, dst, port, proto, direction);
        sides[direction] = !r.isolated || r.rules.length > 0;
    }
    return { allowed: sides.Egress && sides.Ingress, egress: sides.Egress, ingress: sides.Ingress };
}

// Remove from POLICIES every rule that lets SRC reach DST:PORT/PROTO
// (both sides). Returns how many rules went.
export function removeAdmittingRules(policies, src, dst, port, proto = "TCP") {
    let n = 0;
    for (const direction of ["Egress", "Ingress"]) {
        for (const { rule, list } of admittingRules(policies, src, dst, port, proto, direction).rules) {
            const i = list.indexOf(rule);
            if (i >= 0) {
                list.splice(i, 1);
                n++;
            }
        }
    }
    return n;
}
