/* optim: not written yet. */
