package hyperlab.kernel;

import java.util.List;
import org.dflib.jjava.jupyter.kernel.HelpLink;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.messages.reply.KernelInfoReply;

/** jjava 1.0-a6's kernel_info_reply lacks the protocol's required {@code "status": "ok"}; this adds it. */
final class KernelInfoOk extends KernelInfoReply {

    @SuppressWarnings("unused") // serialised by Gson
    private final String status = "ok";

    KernelInfoOk(String protocol, String name, String version, LanguageInfo language, String banner,
            List<HelpLink> links) {
        super(protocol, name, version, language, banner, links);
    }
}
