"""wpmigrate: the domain library of the WordPress migration service.

Importable and testable without Airflow: nothing in this package imports it.
"""
