"""What triggers what: the jobs, the sensors (new inbox files, new months, new features, drift, data
volume, a new champion), the schedules, and `gmp`'s in-process runner that chains the same jobs."""
