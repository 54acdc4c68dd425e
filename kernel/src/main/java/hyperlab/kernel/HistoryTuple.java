package hyperlab.kernel;

import com.google.gson.TypeAdapter;
import com.google.gson.annotations.JsonAdapter;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import org.dflib.jjava.jupyter.kernel.history.HistoryEntry;

/**
 * A history entry that serialises as the protocol's tuple {@code [session, line, input]} or
 * {@code [session, line, [input, output]]}; jjava's reply serialiser would write an object.
 */
@JsonAdapter(HistoryTuple.Adapter.class)
final class HistoryTuple extends HistoryEntry {

    private final boolean withOutput;

    HistoryTuple(int session, int cell, String input, String output, boolean withOutput) {
        super(session, cell, input, output);
        this.withOutput = withOutput;
    }

    /** Writes the tuple form; history is never read back by the kernel. */
    static final class Adapter extends TypeAdapter<HistoryTuple> {
        @Override
        public void write(JsonWriter out, HistoryTuple e) throws IOException {
            out.beginArray().value(e.getSession()).value(e.getCellNumber());
            if (e.withOutput) {
                out.beginArray().value(e.getInput()).value(e.getOutput()).endArray();
            } else {
                out.value(e.getInput());
            }
            out.endArray();
        }

        @Override
        public HistoryTuple read(JsonReader in) {
            throw new UnsupportedOperationException("history entries are only sent, never received");
        }
    }
}
