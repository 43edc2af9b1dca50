/* plot: not written yet. */
