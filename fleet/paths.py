"""Default locations on the hub's machine (never in the Git repository)."""

from __future__ import annotations

import os
from pathlib import Path


def state_home() -> Path:
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state") / "fleet"


def default_lab_dir() -> Path:
    """``$FLEET_LAB_DIR`` or ``~/.local/state/fleet/lab``: where `fleet lab up` keeps the default lab."""
    explicit = os.environ.get("FLEET_LAB_DIR")
    return Path(explicit).expanduser() if explicit else state_home() / "lab"


def default_credentials_dir() -> Path:
    """Relative kubeconfig paths in clusters/ resolve here: ``$FLEET_CREDENTIALS_DIR`` or the default
    lab's kubeconfigs, so the example fleet points at the local lab without any configuration."""
    explicit = os.environ.get("FLEET_CREDENTIALS_DIR")
    return Path(explicit).expanduser() if explicit else default_lab_dir() / "kubeconfigs"
