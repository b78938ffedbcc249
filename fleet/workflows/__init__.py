"""What a person or the hub asks of the fleet, as functions: sync and plan a selection, report status,
probe the registry, promote and roll back. The CLI, the hub and the dashboard call these, so that every
entry point keeps the same rules (render and vet everything before touching a cluster, gates before a
promotion commit)."""
