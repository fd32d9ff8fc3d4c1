"""Framework bridges (torch, jax, scikit-learn); each imports its framework only when imported itself."""
