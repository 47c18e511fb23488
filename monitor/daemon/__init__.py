"""The daemon: ``monitor run``'s scheduler, jobs and signals, the one-daemon-per-SQLite lock,
``/healthz`` and ``/metrics``, and handing freed memory back to the system."""
