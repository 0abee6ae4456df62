"""Dashboards and their life, apart from HTTP: the dashboard document, access decisions,
validation, the store, the lifecycle (start, watch, idle stop), quotas, secrets.
"""
