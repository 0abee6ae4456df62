import definitely_not_an_installed_module  # noqa: F401  (the app fails at import)
