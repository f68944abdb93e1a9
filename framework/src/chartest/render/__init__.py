"""The render tier: ``helm template``, parsed manifests, snapshots, schemas."""
