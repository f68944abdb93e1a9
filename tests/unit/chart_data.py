"""Shared data of the unit (render) tier: services, ports and the feature value sets.

Imported by test modules as ``from chart_data import ...``: a module with a
unique name, because ``from conftest import`` picks whichever tier's conftest
was imported last.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SEED_VALUES = FIXTURES / "seed-values.yaml"

APPS = ["api", "ws", "www"]                      # the project's own services
SERVICES = ["api", "ws", "www", "mongo", "nats"]  # every workload
WORKLOAD_KIND = {"api": "Deployment", "ws": "Deployment", "www": "Deployment", "nats": "Deployment",
                 "mongo": "StatefulSet"}
CONTAINER_PORT = {"api": 5000, "ws": 8080, "www": 3000, "mongo": 27017, "nats": 4222}
SERVICE_PORT = {"api": 80, "ws": 80, "www": 80, "mongo": 27017, "nats": 4222}

# Value sets that together switch on every optional feature; every one of them must
# render schema-valid, PSS-restricted manifests.
FEATURE_SETS = {
    "default": {},
    "tls": {"tls": {"enabled": True, "certResolver": "le"}},
    "tls-secret": {"tls": {"enabled": True, "secretName": "webhooks-tls"}},
    "ingress": {"ingress": {"enabled": True, "className": "nginx"}},
    "ingress-tls": {"ingress": {"enabled": True}, "tls": {"enabled": True, "secretName": "webhooks-tls"}},
    "persistence": {"mongo": {"persistence": {"enabled": True, "size": "2Gi", "storageClass": "standard"}}},
    "scaling": {app: {"autoscaling": {"enabled": True, "maxReplicas": 4, "targetMemoryUtilizationPercentage": 70},
                      "pdb": {"enabled": True}} for app in APPS},
    "egress": {"networkPolicy": {"egress": {"enabled": True}}},
    "prefixed": {"fullnameOverride": "prod"},
    "external-mongo": {"mongo": {"enabled": False, "url": "mongodb://db.example:27017/wh"}},
    "no-netpol": {"networkPolicy": {"enabled": False}},
    "extras": {
        "commonLabels": {"team": "platform"}, "commonAnnotations": {"owner": "platform"},
        "global": {"imageRegistry": "mirror.local:5000", "imagePullSecrets": ["regcred"]},
        **{svc: {"extraEnv": [{"name": "LOG_LEVEL", "value": "debug"}], "podAnnotations": {"a": "b"},
                 "podLabels": {"tier": "x"}, "nodeSelector": {"kubernetes.io/os": "linux"},
                 "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                 "affinity": {"nodeAffinity": {}},
                 "serviceAccount": {"create": True, "annotations": {"x": "y"}}} for svc in SERVICES},
    },
    "ferretdb": {"mongo": {"image": {"registry": "", "repository": "ferretdb"}, "tag": "v1.24.2", "flavor": "ferretdb",
                           "args": ["--listen-addr=:27017", "--handler=sqlite"],
                           "extraEnv": [{"name": "FERRETDB_TELEMETRY", "value": "disable"}],
                           "dataPath": "/state", "podSecurityContext": {"runAsUser": 10001, "runAsGroup": 10001,
                                                                         "fsGroup": 10001, "runAsNonRoot": True,
                                                                         "seccompProfile": {"type": "RuntimeDefault"}}}},
}


def workload(manifests, svc: str):
    return manifests.get(WORKLOAD_KIND[svc], svc)
