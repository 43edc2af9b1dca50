/* mixture: not written yet. */
