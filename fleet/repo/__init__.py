"""The fleet repository as input and output: reading files at a revision (``source``), the hub's mirror
(``mirror``), the registry and env settings loaded from it, and the commits promotion writes
(``gitwrite``). The only package that imports GitPython."""
