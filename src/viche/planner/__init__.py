"""Polling stations abroad: where to open them, with how many booths, staff and days.

Election-free: this package imports nothing from the election side except the shared error
tree. Inputs (:mod:`~viche.planner.inputs`, :mod:`~viche.planner.estimate`), the reduced
model (:mod:`~viche.planner.instance`), the MILP (:mod:`~viche.planner.milp`), its
decomposition by country with a proven gap (:mod:`~viche.planner.lagrange`), the plan and its
tables (:mod:`~viche.planner.solve`), the greedy baseline (:mod:`~viche.planner.greedy`),
queues (:mod:`~viche.planner.queues`), outputs (:mod:`~viche.planner.report`) and the Python API
(:mod:`~viche.planner.api`). See docs/planner.md.
"""
