package hyperlab.data;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/** GPT-2's byte-level BPE (r50k_base, vocab 50257) through jtokkit, offline; the M and L presets pad to 50304. */
public final class Gpt2Tokenizer implements Tokenizer {
    private static final Encoding R50K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);

    @Override
    public int vocab() { return 50257; }

    @Override
    public int[] encode(String text) {
        return R50K.encodeOrdinary(text).toArray();
    }

    @Override
    public String decode(int[] tokens) {
        IntArrayList list = new IntArrayList(tokens.length);
        for (int t : tokens) {
            if (t < 0 || t >= vocab())
                throw new IllegalArgumentException("token " + t + " is outside GPT-2's vocabulary [0, " + vocab() + ")");
            list.add(t);
        }
        return R50K.decode(list);
    }

    @Override
    public String name() { return "gpt2"; }
}
