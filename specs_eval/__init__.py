"""specs-eval: evaluation and analysis of VLM cold-start methods (SPECS).

Importing this package never imports torch: scoring, analysis and reports run on a
core install. Model backends and training import torch lazily.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
