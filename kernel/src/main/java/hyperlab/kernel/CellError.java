package hyperlab.kernel;

import java.util.List;

/** A cell's failure as Jupyter shows it: the error's name, its message and a trimmed traceback. */
public final class CellError extends Exception {

    private static final long serialVersionUID = 1L;

    private final String ename;
    private final List<String> traceback;

    CellError(String ename, String evalue, List<String> traceback) {
        super(evalue == null ? "" : evalue);
        this.ename = ename;
        this.traceback = List.copyOf(traceback);
    }

    public String ename() {
        return ename;
    }

    public String evalue() {
        return getMessage();
    }

    public List<String> traceback() {
        return traceback;
    }
}
