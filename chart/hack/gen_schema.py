#!/usr/bin/env python3
"""Generate chart/values.schema.json (run: python chart/hack/gen_schema.py).

Every object level is closed (additionalProperties: false) so an unknown or
misspelt key fails `helm template` with a message naming it. A unit test checks
the committed file equals this script's output.
"""
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "values.schema.json"


def obj(props, required=(), desc=None, **extra):
    s = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        s["required"] = list(required)
    if desc:
        s["description"] = desc
    s.update(extra)
    return s


def ref(name):
    return {"$ref": f"#/$defs/{name}"}


STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT0 = {"type": "integer", "minimum": 0}
INT1 = {"type": "integer", "minimum": 1}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY = {"oneOf": [{"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$"},
                      {"type": "number", "minimum": 0}]}
INT_OR_PERCENT = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^([0-9]+%?)?$"}]}
INT_OR_PERCENT_STRICT = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+%$"}]}
K8S_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}

DEFS = {
    "labelSelector": obj({
        "matchLabels": STRMAP,
        "matchExpressions": {"type": "array", "items": obj({
            "key": STR, "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
            "values": {"type": "array", "items": STR}}, required=["key", "operator"])},
    }),
    "image": obj({
        "registry": {"type": "string", "description": "image registry (may be empty)"},
        "repository": {"type": "string", "minLength": 1},
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    }, required=["repository"]),
    "tag": {"oneOf": [{"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"},
                      {"type": "number"}],
            "description": "image tag (a number like 4.4 is accepted for seed compatibility)"},
    "resourceList": obj({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY}),
    "resources": obj({"requests": ref("resourceList"), "limits": ref("resourceList")}),
    "probe": obj({
        "enabled": BOOL, "path": {"type": "string", "pattern": "^/"},
        "initialDelaySeconds": INT0, "periodSeconds": INT1, "timeoutSeconds": INT1,
        "failureThreshold": INT1, "successThreshold": INT1,
    }, required=["enabled"]),
    "service": obj({
        "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
        "port": PORT,
        "annotations": STRMAP,
    }),
    "keyRef": obj({"name": STR, "key": STR, "optional": BOOL}, required=["key"]),
    "envVar": obj({
        "name": {"type": "string", "minLength": 1}, "value": STR,
        "valueFrom": obj({
            "secretKeyRef": ref("keyRef"), "configMapKeyRef": ref("keyRef"),
            "fieldRef": obj({"apiVersion": STR, "fieldPath": STR}, required=["fieldPath"]),
            "resourceFieldRef": obj({"containerName": STR, "resource": STR, "divisor": QUANTITY},
                                    required=["resource"]),
        })}, required=["name"]),
    "toleration": obj({
        "key": STR, "operator": {"enum": ["Exists", "Equal"]}, "value": STR,
        "effect": {"enum": ["", "NoSchedule", "PreferNoSchedule", "NoExecute"]},
        "tolerationSeconds": {"type": "integer"}}),
    # The affinity sub-trees are Kubernetes types passed through verbatim: deliberately
    # open here, validated field by field by the rendered-manifest schema check.
    "affinity": obj({k: {"type": "object", "additionalProperties": True,
                         "description": f"a core/v1 {k[0].upper() + k[1:]}, passed through"}
                     for k in ("nodeAffinity", "podAffinity", "podAntiAffinity")}),
    "serviceAccount": obj({"create": BOOL, "name": {"oneOf": [{"const": ""}, K8S_NAME]}, "annotations": STRMAP}),
    "seccompProfile": obj({"type": {"enum": ["RuntimeDefault", "Localhost", "Unconfined"]},
                           "localhostProfile": STR}),
    "podSecurityContext": obj({
        "runAsNonRoot": BOOL, "runAsUser": INT0, "runAsGroup": INT0, "fsGroup": INT0,
        "fsGroupChangePolicy": {"enum": ["Always", "OnRootMismatch"]},
        "supplementalGroups": {"type": "array", "items": INT0},
        "seccompProfile": ref("seccompProfile"),
        "sysctls": {"type": "array", "items": obj({"name": STR, "value": STR})},
    }),
    "securityContext": obj({
        "allowPrivilegeEscalation": BOOL, "readOnlyRootFilesystem": BOOL, "privileged": BOOL,
        "runAsNonRoot": BOOL, "runAsUser": INT0, "runAsGroup": INT0,
        "capabilities": obj({"drop": {"type": "array", "items": STR}, "add": {"type": "array", "items": STR}}),
        "seccompProfile": ref("seccompProfile"),
        "procMount": {"enum": ["Default", "Unmasked"]},
    }),
    "spread": obj({
        "enabled": BOOL,
        "topologyKey": {"type": "string", "minLength": 1},
        "maxSkew": INT1,
        "whenUnsatisfiable": {"enum": ["ScheduleAnyway", "DoNotSchedule"]},
        "nodeTaintsPolicy": {"enum": ["Honor", "Ignore"]},
    }, description="a topologySpreadConstraint over the component's replicas"),
    "pdb": obj({"enabled": BOOL, "minAvailable": INT_OR_PERCENT, "maxUnavailable": INT_OR_PERCENT}),
    "lifecycle": obj({
        "preStopSleepSeconds": {**INT0, "description": "seconds of the native preStop sleep action (0: no hook); "
                                                      "must be lower than terminationGracePeriodSeconds"},
    }),
    "updateStrategy": obj({
        "type": {"enum": ["RollingUpdate", "Recreate"]},
        "rollingUpdate": obj({"maxUnavailable": INT_OR_PERCENT_STRICT, "maxSurge": INT_OR_PERCENT_STRICT}),
    }, required=["type"], description="a Deployment's spec.strategy"),
    "autoscaling": obj({
        "enabled": BOOL, "minReplicas": INT1, "maxReplicas": INT1,
        "targetCPUUtilizationPercentage": {"type": ["integer", "null"], "minimum": 1},
        "targetMemoryUtilizationPercentage": {"type": ["integer", "null"], "minimum": 1},
    }),
}


def component(extra=None, scaling=False):
    props = {
        "replicas": {"type": ["integer", "null"], "minimum": 0},
        "tag": ref("tag"),
        "image": ref("image"),
        "containerPort": PORT,
        "service": ref("service"),
        "resources": ref("resources"),
        "livenessProbe": ref("probe"),
        "readinessProbe": ref("probe"),
        "extraEnv": {"type": "array", "items": ref("envVar")},
        "podAnnotations": STRMAP,
        "podLabels": STRMAP,
        "nodeSelector": STRMAP,
        "tolerations": {"type": "array", "items": ref("toleration")},
        "affinity": ref("affinity"),
        "serviceAccount": ref("serviceAccount"),
        "podSecurityContext": ref("podSecurityContext"),
        "securityContext": ref("securityContext"),
        "terminationGracePeriodSeconds": {**INT0, "description": "pod grace period in seconds; "
                                                                "must exceed lifecycle.preStopSleepSeconds"},
        "lifecycle": ref("lifecycle"),
    }
    if scaling:  # the Deployments of the apps (api, ws, www)
        props["pdb"] = ref("pdb")
        props["spread"] = ref("spread")
        props["autoscaling"] = ref("autoscaling")
        props["updateStrategy"] = ref("updateStrategy")
    props.update(extra or {})
    return obj(props, required=["tag"])


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Values of the webhooks chart",
    "$defs": DEFS,
    **obj({
        "global": obj({"imageRegistry": STR, "imagePullSecrets": {"type": "array", "items": K8S_NAME}}),
        "nameOverride": {"oneOf": [{"const": ""}, K8S_NAME]},
        "fullnameOverride": {"oneOf": [{"const": ""}, {**K8S_NAME, "maxLength": 40}]},
        "commonLabels": STRMAP,
        "commonAnnotations": STRMAP,
        "domain": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$",
                   "description": "host name or IP address the app is served on"},
        "tls": obj({"enabled": BOOL, "certResolver": STR, "secretName": STR}),
        "trustedProxies": {"type": "array", "items": {
            "type": "string", "pattern": r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$"},
            "description": "IPs/CIDRs of the ingress controller whose X-Forwarded-For the services believe "
                           "(env TRUSTED_PROXIES; empty: nobody's)"},
        "ingressRoute": obj({"enabled": BOOL, "annotations": STRMAP,
                             "entryPoint": {"type": "string", "minLength": 1},
                             "tlsEntryPoint": {"type": "string", "minLength": 1},
                             "rules": {"type": "string", "enum": ["strict", "seed"]}}),
        "ingress": obj({"enabled": BOOL, "className": STR, "annotations": STRMAP}),
        "networkPolicy": obj({
            "enabled": BOOL,
            "ingressNamespaceSelector": ref("labelSelector"),
            "ingressPodSelector": ref("labelSelector"),
            "egress": obj({"enabled": BOOL, "dnsNamespaceSelector": ref("labelSelector"),
                           "dnsPodSelector": ref("labelSelector")}),
        }),
        "api": component({
            "maxPayloadBytes": {"type": "integer", "minimum": 1,
                                "description": "largest accepted payload in bytes (env MAX_PAYLOAD_BYTES); "
                                               "keep it below nats.maxPayload minus ~1 KiB of envelope"},
        }, scaling=True),
        "ws": component(scaling=True),
        "www": component(scaling=True),
        "mongo": component({
            "enabled": BOOL,
            "url": {"type": "string", "pattern": r"^(mongodb(\+srv)?://.+)?$"},
            "existingSecret": STR,
            "secretKey": {"type": "string", "pattern": r"^[-._a-zA-Z0-9]+$"},
            "database": {"type": "string", "minLength": 1, "pattern": r"^[^/\\. \"$]+$"},
            "dataPath": {"type": "string", "pattern": "^/"},
            "args": {"type": "array", "items": STR},
            "flavor": {"type": "string", "enum": ["mongodb", "ferretdb"],
                       "description": "the server the image runs: how it is told its user"},
            "auth": obj({
                "enabled": BOOL,
                "username": {"type": "string", "pattern": r"^[A-Za-z0-9._-]+$"},
                "password": {"type": "string", "pattern": r"^[A-Za-z0-9._~-]*$",
                             "description": "empty: generated once and kept across upgrades"},
                "authSource": {"type": "string", "minLength": 1, "pattern": r"^[^/\\. \"$]+$"},
            }),
            "persistence": obj({"enabled": BOOL, "size": QUANTITY, "storageClass": STR,
                                "accessModes": {"type": "array", "minItems": 1, "items": {
                                    "enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]}}}),
        }),
        "nats": component({
            "monitorPort": PORT,
            # Rendered unquoted into nats.conf: the pattern also keeps it a single size token.
            "maxPayload": {"type": "string", "pattern": r"^[0-9]+([KkMmGg][Bb]?)?$",
                           "description": "max_payload of nats-server: bytes or a size like 2MB (MB = MiB)"},
            "extraArgs": {"type": "array", "items": STR},
            "auth": obj({
                "enabled": BOOL,
                "apiPassword": {"type": "string", "pattern": r"^[A-Za-z0-9._~-]*$"},
                "wsPassword": {"type": "string", "pattern": r"^[A-Za-z0-9._~-]*$"},
            }),
        }),
    }, required=["domain", "api", "ws", "www", "mongo", "nats"]),
}


def render() -> str:
    return json.dumps(SCHEMA, indent=2) + "\n"


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == render() else 1)
    OUT.write_text(render())
    print(f"wrote {OUT}")
