"""paused_gc: the collector is off inside any open context and restored when the last one closes."""

from __future__ import annotations

import gc
import threading

from qcomp.ir.gc_pause import paused_gc


def test_nested_and_overlapping_contexts_restore_the_collector():
    assert gc.isenabled()
    a, b = paused_gc(), paused_gc()
    a.__enter__()
    assert not gc.isenabled()
    b.__enter__()
    a.__exit__(None, None, None)  # closing the first while the second is open keeps it paused
    assert not gc.isenabled()
    b.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_leave_the_collector_on():
    # many short contexts from several threads: a per-context read-then-disable raced and could
    # leave the collector off (about 1 run in 20 of this size before the counted version)
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(3000):
            with paused_gc():
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled()
