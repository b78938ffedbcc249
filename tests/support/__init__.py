"""Test support shared by the suites: fleet repositories on disk and in Git (``fleetfiles``), a lab for the
test session (``lab``), fleet repositories synced against it (``labrepo``), a hub served in-process
(``hub``) and the generator of hostile repositories (``fuzzing``). Test modules import from here and
from conftest fixtures, never from each other."""
