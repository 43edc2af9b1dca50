/* mi: not written yet. */
