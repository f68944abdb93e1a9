"""The cluster tier: kind clusters, helm releases, readiness, the ingress controller, dumps."""
