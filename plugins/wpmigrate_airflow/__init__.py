"""Airflow integration of wpmigrate: hooks over Airflow connections, the artifact store,
error reporting for the portal, and the task bodies the DAG files wire together."""
