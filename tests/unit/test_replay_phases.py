"""A projection's replay phases name every event it handles, each once: an event left out of
every phase would be left out of a phased rebuild (the rebuilder then replays in order)."""

import pytest
from eventsourcing.utils import get_topic

from crm.projectors import all_projectors

PHASED = [projector for projector in all_projectors() if projector.replay_phases]


def test_the_customers_projection_is_rebuilt_in_phases():
    assert [projector.name for projector in PHASED] == ["customers"]


@pytest.mark.parametrize("projector", PHASED, ids=lambda projector: projector.name)
def test_the_phases_cover_every_event_of_the_projection_once(projector):
    topics = [get_topic(cls) for phase in projector.replay_phases for cls in phase]

    assert len(topics) == len(set(topics))
    assert set(topics) == projector.topics
