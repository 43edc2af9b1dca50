/* chart: not written yet. */
