"""The program inside every dashboard: source, framework, guard, health."""

__version__ = "0.1.0"
