"""Composing projectors: the read models a service keeps in its appending transaction."""

from __future__ import annotations


def chain(*projectors):
    """Several projectors in one appending transaction, in order."""

    def project(cur, events):
        for projector in projectors:
            projector(cur, events)

    return project
