"""Loa xã: the broadcaster for a Vietnamese commune's loudspeaker system."""

import os

# numpy's OpenBLAS hands even the proof-of-play's small matrix products to worker threads that
# then busy-wait: measured, monitoring cost 40 % of a core while on air with them, 3 % without
# (docs/benchmarks.md, figure 10). Every product here is small, so one thread is also the fastest.
# This must run before numpy is first imported, hence here; an explicit setting is respected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
