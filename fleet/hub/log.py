"""Structured logs: one line per event with the cluster and object as fields. Only fields the code puts
there are printed (never kubeconfigs, tokens or webhook payloads)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class EventLog:
    def __init__(self, fmt: str = "text", stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr

    def __call__(self, event: str, **fields: Any) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        clean = {k: v for k, v in fields.items() if v is not None}
        if self.fmt == "json":
            line = json.dumps({"time": now, "event": event, **clean}, default=str, separators=(",", ":"))
        else:
            line = " ".join([now, event] + [f"{k}={_text(v)}" for k, v in clean.items()])
        print(line, file=self.stream, flush=True)


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or "=" in text or not text) else text
