/* binning: not written yet. */
