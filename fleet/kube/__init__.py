"""Kubernetes access, and the only package that imports kubernetes_asyncio: the vetted kubeconfig
(``kubeconfig``), clients built from it (``client``), one cluster's raw API with its limits and error
types (``api``), and discovery (``discovery``). What fleet does with objects is ``fleet.engine``."""
