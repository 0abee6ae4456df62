"""Dashboards and their life, apart from HTTP: the dashboard document, access decisions,
validation, the store and its read cache, the lifecycle (start, watch, idle stop) and
viewer activity, quotas, secrets.
"""
