import SSH
