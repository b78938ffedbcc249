"""The leaf of fleet: its vocabulary (the names it writes into clusters and reads from the repository) and
its frozen models (objects, clusters, inventories, changes, drift, reports, promotion records) with the
pure rules over them (comparison, health, ordering, masking, gates).

Nothing here does I/O or imports the rest of fleet (errors and YAML reading aside), so the report, the
hub's API and the dashboard can use every model without Kubernetes or Git; `make lint` enforces it.
"""
