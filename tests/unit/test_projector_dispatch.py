"""A batch goes to each event's handler: the one registered for its class or the nearest base
class, the default for others, bound to the batch's own copy of the projector."""

from functools import singledispatchmethod

from crm.projectors.base import Projector


class Event:
    pass


class Opened(Event):
    pass


class Reopened(Opened):
    pass


class Unknown(Event):
    pass


class Recording(Projector):
    name = "recording"
    tables = ()

    def begin_batch(self, session):
        self.seen = []

    @singledispatchmethod
    def handle(self, event, session):
        self.seen.append(("ignored", type(event).__name__))

    @handle.register
    def _opened(self, event: Opened, session):
        self.seen.append(("opened", type(event).__name__))

    def end_batch(self, session):
        session.append(self.seen)


class RecordingChild(Recording):
    """Inherits the dispatching `handle` of its base class."""


class Plain(Projector):
    name = "plain"
    tables = ()

    def begin_batch(self, session):
        self.seen = []

    def handle(self, event, session):
        self.seen.append(type(event).__name__)

    def end_batch(self, session):
        session.append(self.seen)


def test_each_event_goes_to_its_handler_in_order():
    for projector in (Recording(), RecordingChild()):
        batches = []
        projector.apply([Opened(), Unknown(), Reopened(), Opened()], batches)
        projector.apply([Unknown()], batches)
        assert batches == [
            [("opened", "Opened"), ("ignored", "Unknown"), ("opened", "Reopened"), ("opened", "Opened")],
            [("ignored", "Unknown")],
        ]


def test_a_plain_handle_gets_every_event():
    batches = []
    Plain().apply([Opened(), Unknown()], batches)
    assert batches == [["Opened", "Unknown"]]
