"""Plain HTTPS calls to a lab apiserver with the lab's admin certificate (readiness and node set-up).

The lab talks to its apiservers before any fleet client exists, so it uses aiohttp directly.
"""

from __future__ import annotations

import ssl
from typing import Any

import aiohttp

from fleet.lab.pki import CertPair


def ssl_context(ca: CertPair, client: CertPair) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.load_cert_chain(str(client.cert), str(client.key))
    return context


class ApiProbe:
    def __init__(self, base_url: str, context: ssl.SSLContext, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.context = context
        self.session = session

    async def get(self, path: str, *, timeout: float = 5.0) -> tuple[int, Any]:
        async with self.session.get(
            self.base_url + path, ssl=self.context, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            body = await response.json(content_type=None) if "json" in response.content_type else None
            return response.status, body

    async def text(self, path: str, *, timeout: float = 5.0) -> tuple[int, str]:
        async with self.session.get(
            self.base_url + path, ssl=self.context, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return response.status, await response.text()

    async def post(self, path: str, body: dict[str, Any], *, timeout: float = 10.0) -> tuple[int, Any]:
        async with self.session.post(
            self.base_url + path, json=body, ssl=self.context, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return response.status, await response.json(content_type=None)
