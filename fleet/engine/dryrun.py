"""Server-side dry runs: what applying an object would make of it, with the server's defaults, admission
and the field ownership of every other manager taken into account, without writing anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.engine.base import ManagerBase
from fleet.kube.api import ApiError


@dataclass(frozen=True)
class DryRun:
    result: dict[str, Any]  # the object as the apply would leave it
    # Another field manager owns a field Git sets: the server's message, e.g. 'Apply failed with 1 conflict:
    # conflict with "kubectl-edit" using apps/v1: .spec.replicas'. ``result`` is then the forced apply's.
    conflict: str = ""


class DryRunning(ManagerBase):
    async def dry_run(
        self, path: str, obj: dict[str, Any], *, force: bool = False, explain_conflict: bool = True
    ) -> DryRun:
        """Apply ``obj`` with dryRun=All. On a conflict the conflict is returned, and (``explain_conflict``)
        the dry run is repeated with force so that the result still shows what the change would be; without
        it the result is empty (a sync that will refuse the object needs no second request). Any other
        refusal raises ApiError."""
        try:
            return DryRun(await self._server_side_apply(path, obj, force=force, dry_run=True))
        except ApiError as exc:
            if exc.status != 409 or force:
                raise
            conflict = exc.message
        if not explain_conflict:
            return DryRun({}, conflict)
        return DryRun(await self._server_side_apply(path, obj, force=True, dry_run=True), conflict)
