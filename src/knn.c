/* knn: not written yet. */
