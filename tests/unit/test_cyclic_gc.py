"""The cyclic garbage collector held off for bulk work, and given back after it."""

import gc

import pytest

from crm.cyclic_gc import cycle_collection_paused


class Cycle:
    def __init__(self):
        self.me = self


def test_the_collector_is_off_inside_and_back_on_after_with_the_garbage_collected():
    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        Cycle()  # unreachable, but only the cyclic collector frees it
        assert any(type(o) is Cycle for o in gc.get_objects())
    assert gc.isenabled()
    assert not any(type(o) is Cycle for o in gc.get_objects())


def test_a_pause_inside_another_leaves_it_off_and_an_error_still_gives_it_back():
    with pytest.raises(RuntimeError):
        with cycle_collection_paused():
            with cycle_collection_paused():
                pass
            assert not gc.isenabled()
            raise RuntimeError
    assert gc.isenabled()


def test_a_process_that_had_it_off_keeps_it_off():
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
