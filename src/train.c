/* train: not written yet. */
