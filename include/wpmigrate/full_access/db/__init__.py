"""The source and target databases: connections, consistent export, atomic import."""
