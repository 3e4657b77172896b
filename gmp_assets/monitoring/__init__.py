"""Monitoring: data drift (PSI), prediction drift, and the sensors and schedules that act on them."""
