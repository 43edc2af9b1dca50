/* entropy: not written yet. */
