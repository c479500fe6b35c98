"""Run one call from many threads or processes at once."""

import multiprocessing
import queue
import threading

from store_kit import exceptions

N = 8


def in_threads(fns):
    """Run every ``fn()`` in its own thread, released together; outcomes in order."""
    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)

    def run(i, fn):
        barrier.wait()
        try:
            results[i] = ('ok', fn())
        except exceptions.StoreKitError as err:
            results[i] = (type(err).__name__, err)
        except Exception as err:       # a raw driver error: the test fails on it
            results[i] = ('RAW ' + type(err).__name__, err)
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def in_processes(target, args, n=N):
    """Run ``target(*args, barrier, results)`` in ``n`` spawned processes."""
    ctx = multiprocessing.get_context('spawn')
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=args + (barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    out = []
    for _ in procs:
        try:
            out.append(results.get(timeout=120))
        except queue.Empty:
            break
    for p in procs:
        p.join(30)
    return out
