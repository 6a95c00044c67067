"""The pipeline's stages: ``zero-rl``, ``distill``, ``cold-start``, ``rl`` and ``eval``.

``base`` runs any stage with skip/resume semantics; ``train`` holds the trainer code run
inside (possibly distributed) workers; ``distill`` builds the preference pairs;
``evaluate`` runs the harness on a stage's model.
"""
