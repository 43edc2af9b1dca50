/* csvread: not written yet. */
