"""The hub: the long-running agent (Git polling and webhooks, one reconcile loop per cluster, watches,
self-heal, the fleet report over HTTP, metrics)."""
