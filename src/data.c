/* data: not written yet. */
