"""kubernetes_asyncio clients built from a kubeconfig file and context."""

from __future__ import annotations

from pathlib import Path

from kubernetes_asyncio import client, config


async def api_client(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    """A fresh ApiClient; the caller closes it (``async with`` or ``await c.close()``)."""
    return await config.new_client_from_config(config_file=str(kubeconfig), context=context)
