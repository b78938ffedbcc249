"""The engine: one cluster at a time. ``ResourceManager`` is the only object that talks to a cluster's API
for fleet's objects (reading, dry runs, apply, delete, waits; one verb a file); ``ClusterSync`` (apply and
prune) and ``DriftScan`` (read-only comparison) are built on it, and the workflows and the hub use those.
"""
