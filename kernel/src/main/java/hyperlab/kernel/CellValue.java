package hyperlab.kernel;

/** The outcome of a successful cell: its last expression's object, or none when it ended in a statement. */
record CellValue(boolean present, Object value) {

    static final CellValue NONE = new CellValue(false, null);

    static CellValue of(Object value) {
        return new CellValue(true, value);
    }
}
