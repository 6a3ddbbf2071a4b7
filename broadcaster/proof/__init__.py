"""Proof of play: was a broadcast actually heard at the loudspeakers?

A ``monitor:`` capture device hears what the loudspeakers get (a line-in from the amplifier
output, a microphone near a speaker, or a PulseAudio sink's monitor source). During a broadcast
:class:`~broadcaster.proof.monitored.MonitoredSink` records it with
:class:`~broadcaster.proof.capture.MonitorCapture` and :func:`~broadcaster.proof.analyze.analyze`
compares it with what was sent: heard or not, delay, level, dead-air spans.
"""

from __future__ import annotations

from broadcaster.proof.analyze import DeadAir, Proof, analyze, failed_proof

__all__ = ["DeadAir", "Proof", "analyze", "failed_proof"]
