"""Binary neural network model, weights I/O, data sets, OOD sets, corruptions and training recipe."""
