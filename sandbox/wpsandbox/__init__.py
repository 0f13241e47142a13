"""The project's own WordPress sandbox: a real source and target WordPress, a private
MariaDB and an OpenSSH SFTP server, all on 127.0.0.1, all disposable."""
