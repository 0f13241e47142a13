"""Mode A verification: source against target, databases, files and HTTP."""
