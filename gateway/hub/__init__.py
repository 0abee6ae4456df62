"""JupyterHub's side of the gateway: its REST API client, Hub OAuth sign-in and
sessions, and the route the gateway keeps in configurable-http-proxy.
"""
