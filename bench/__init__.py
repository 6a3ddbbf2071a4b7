"""Benchmarks and the fault-injected soak for Loa xã.

``python -m bench [--quick]`` measures every figure through the real path (a private
PulseAudio null sink, the real ``broadcaster run`` daemon, onsets found in the sink's
recording) and writes ``bench/results.json`` and ``docs/benchmarks.md``.
``python -m bench.soak [--short]`` runs a compressed campaign while injecting faults and
reconciles the plan against the as-run log and the recording.
"""
