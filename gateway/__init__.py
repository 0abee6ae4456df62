"""Podium's gateway: the JupyterHub service that publishes and proxies dashboards."""
