"""Rendering: what each cluster should run, from overlays/ at a revision (templates, values, patches)."""
