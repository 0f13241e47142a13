"""What every part shares: error codes, the conf contract and its schemas, settings, retry policy, the
off-peak window, progress, notifications and the HTML report."""
