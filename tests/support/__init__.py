"""What the tests share: one fake clock, a manual sink, and the helpers that start real things.

``clock`` (:class:`FakeClock`) and ``sinks`` (:class:`ManualSink`) let the player's rules run in
the fast loop; ``pulse`` (a private PulseAudio server), ``harness`` (a project folder and a daemon
subprocess), ``icecast_server`` (a real icecast2), ``console`` (users and logins for the console
tests) and ``corpus`` (the normaliser's corpus lines) start or read the real things.
Import them as ``from tests.support.harness import Project``.
"""
