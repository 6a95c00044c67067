"""Published results as data (YAML), with their sources. Read them with ``analysis.leaderboard``.

Why a package: so the YAML files ship inside the wheel and ``specs-eval report
--leaderboard NAME`` finds them without a path. See README.md for sources and precision.
"""
