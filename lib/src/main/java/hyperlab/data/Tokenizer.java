package hyperlab.data;

import java.util.Locale;

/** Text to token ids and back; the model's vocabulary must cover {@link #vocab()}. */
public interface Tokenizer {
    /** The number of distinct token ids (ids are in [0, vocab)). */
    int vocab();

    int[] encode(String text);

    String decode(int[] tokens);

    /** The name used in configs: bytes or gpt2. */
    String name();

    /** bytes (UTF-8 bytes, vocab 256) or gpt2 (GPT-2 BPE r50k_base, vocab 50257). */
    static Tokenizer of(String name) {
        return switch (name == null ? "" : name.trim().toLowerCase(Locale.ROOT)) {
            case "bytes" -> new BytesTokenizer();
            case "gpt2" -> new Gpt2Tokenizer();
            default -> throw new IllegalArgumentException("tokenizer = '" + name + "' is unknown: use bytes or gpt2");
        };
    }
}
