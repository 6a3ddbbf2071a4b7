"""Loudspeaker zones ("cụm loa" of a thôn) fed over the network.

Each zone can be an Icecast mount: the station streams to it continuously
(:class:`broadcaster.zones.icecast.IcecastSink`), a cheap receiver beside the loudspeakers
plays it. :mod:`broadcaster.zones.server` writes the commune's Icecast configuration,
:mod:`broadcaster.zones.secrets` finds the source password.
"""
