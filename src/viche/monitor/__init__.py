"""Influence monitor: finds coordinated influence campaigns in posts and articles.

Independent of the election side: nothing here imports ``viche.crypto``, ``viche.protocol``,
``viche.record`` or ``viche.verify``.
"""
