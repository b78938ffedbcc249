"""JSON answers of the hub's HTTP side (API and dashboard endpoints alike)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


def json_reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def error_reply(status: int, message: str) -> web.Response:
    return json_reply({"error": message}, status)
