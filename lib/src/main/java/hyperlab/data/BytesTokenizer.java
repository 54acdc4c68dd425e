package hyperlab.data;

import java.nio.charset.StandardCharsets;

/** UTF-8 bytes as tokens: vocab 256, no training, any text round-trips exactly. */
public final class BytesTokenizer implements Tokenizer {
    @Override
    public int vocab() { return 256; }

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] & 0xFF;
        return out;
    }

    @Override
    public String decode(int[] tokens) {
        byte[] b = new byte[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] > 255)
                throw new IllegalArgumentException("token " + tokens[i] + " at " + i + " is not a byte (0..255)");
            b[i] = (byte) tokens[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public String name() { return "bytes"; }
}
