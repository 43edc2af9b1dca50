/* net: not written yet. */
