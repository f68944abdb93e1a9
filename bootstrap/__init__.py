"""The air-gapped bootstrap: Docker engine, pinned tools built from the Go module proxy,
the kind node image and base images. It uses no pytest; the framework never imports it."""
