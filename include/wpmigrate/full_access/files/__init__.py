"""wp-content over SFTP: manifest, resumable export, hash-checked import."""
