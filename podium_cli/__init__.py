"""The ``podium`` command line for creators: publish a notebook or app from where you work
(a JupyterLab terminal needs no configuration), list, start, stop, follow and delete your
dashboards. Standard library only, so that it installs into any user image."""
