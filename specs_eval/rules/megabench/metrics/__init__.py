"""The MEGA-Bench metric zoo, split by family (strings, numbers, sets, dicts, geometry,
text, constrained generation, LaTeX, planning, code). ``registry.py`` maps the
official metric ids to these functions."""
