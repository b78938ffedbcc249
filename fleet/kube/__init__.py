"""The only package that imports kubernetes_asyncio: clients per cluster, discovery, apply, watch."""
