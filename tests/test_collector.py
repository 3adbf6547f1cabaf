"""The cycle collector paused for a batch (endorse/collector.py): back on when the last of nested or
overlapping pauses ends, even when a batch fails, and never turned on by a pause that found it off."""

from __future__ import annotations

import gc
import threading

import pytest

from endorse.collector import cycle_collector_paused


def test_nested_pauses_turn_it_back_on_only_when_the_last_ends():
    assert gc.isenabled()
    with cycle_collector_paused():
        with cycle_collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer batch still runs
    assert gc.isenabled()


def test_a_failing_batch_turns_it_back_on():
    with pytest.raises(RuntimeError), cycle_collector_paused():
        raise RuntimeError("the database went away")
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_end_with_it_on():
    # A worker running two tasks at once: the first ends while the second still runs.
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    during_second: list[bool] = []

    def first() -> None:
        with cycle_collector_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with cycle_collector_paused():
            second_in.set()
            first_out.wait(5)
            during_second.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert during_second == [False] and gc.isenabled()


def test_a_pause_that_found_it_off_leaves_it_off():
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
