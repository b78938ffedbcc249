"""The local lab: real Kubernetes control planes built from pinned Go modules, with simulated nodes."""
