/* kdtree: not written yet. */
