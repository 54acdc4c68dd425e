package hyperlab.kernel;

/** Maps a character offset in a cell to the 1-based line and column a user sees in the notebook. */
record CellPosition(int line, int column) {

    static CellPosition of(String cell, int offset, int firstLine) {
        int at = Math.max(0, Math.min(offset, cell.length()));
        int line = firstLine;
        int lineStart = 0;
        for (int i = 0; i < at; i++) {
            if (cell.charAt(i) == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        return new CellPosition(line, at - lineStart + 1);
    }
}
