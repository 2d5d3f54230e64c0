"""Projections turn the event log into read tables; `engine/` drives them."""

from __future__ import annotations

from crm.projectors.base import Projector
from crm.projectors.campaigns import CampaignsProjector
from crm.projectors.customers import CustomerSpendProjector
from crm.projectors.imports import ImportsProjector
from crm.projectors.restaurants import RestaurantsProjector
from crm.projectors.segments import SegmentsProjector


def all_projectors() -> list[Projector]:
    """One instance of each projection, in the order they catch up."""
    return [
        RestaurantsProjector(),
        CustomerSpendProjector(),
        CampaignsProjector(),
        SegmentsProjector(),
        ImportsProjector(),
    ]
