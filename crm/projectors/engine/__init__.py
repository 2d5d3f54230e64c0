"""The projection engine: reads the log in bounded windows, tracks positions, applies batches.

Its public surface:
- `ProjectionRunner`: catches projections up to a position (inline) or follows the log.
- `InlineProjection`: inline mode's projection of a command's events in its own transaction.
- `ReadSide`: read-your-writes, asked for by a command's caller (`wait_for(position, names)`).
- `ProjectionWatcher`: knows how far another process's projector has got (background mode).
- `ProjectorDaemon`: `crm projector`, one active instance per projection (leases).
- `Rebuilder`: build-then-swap rebuilds; `projection_status`: where each projection stands.
"""

from crm.projectors.engine.daemon import ProjectorDaemon
from crm.projectors.engine.inline import InlineProjection
from crm.projectors.engine.read_side import ReadSide
from crm.projectors.engine.rebuild import Rebuilder, RebuildRunning
from crm.projectors.engine.runner import ProjectionRunner
from crm.projectors.engine.status import projection_lag, projection_status
from crm.projectors.engine.watcher import ProjectionWatcher

__all__ = [
    "InlineProjection",
    "ProjectionRunner",
    "ProjectionWatcher",
    "ProjectorDaemon",
    "ReadSide",
    "RebuildRunning",
    "Rebuilder",
    "projection_lag",
    "projection_status",
]
