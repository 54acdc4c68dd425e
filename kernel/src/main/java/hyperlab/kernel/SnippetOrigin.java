package hyperlab.kernel;

/** Where a snippet came from: the evaluator's cell number and the cell line its source starts on. */
record SnippetOrigin(int cell, int firstLine) {
}
