package hyperlab.kernel;

import java.util.List;
import org.dflib.jjava.jupyter.kernel.history.HistoryEntry;
import org.dflib.jjava.jupyter.messages.reply.HistoryReply;

/** jjava 1.0-a6's history_reply lacks the protocol's required {@code "status": "ok"}; this adds it. */
final class HistoryReplyOk extends HistoryReply {

    @SuppressWarnings("unused") // serialised by Gson
    private final String status = "ok";

    HistoryReplyOk(List<HistoryEntry> history) {
        super(history);
    }
}
