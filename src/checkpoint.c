/* checkpoint: not written yet. */
