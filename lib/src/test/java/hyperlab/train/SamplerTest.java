package hyperlab.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import hyperlab.data.BytesTokenizer;
import hyperlab.data.Tokenizer;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import org.junit.jupiter.api.Test;

class SamplerTest {
    @Test
    void greedyTakesTheArgmaxAndSeedsReproduceSamples() {
        Tokenizer tok = new BytesTokenizer();
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt g = Gpt.create(GptConfig.preset("tiny").context(8)).init(m);
            String prompt = "abcdefghij";                       // longer than the context: cropped to the last 8
            int[] ids = tok.encode(prompt.substring(2));
            float[] last = g.logits(m.create(ids).reshape(1, 8)).get(new NDIndex("0, -1")).toFloatArray();
            int argmax = 0;
            for (int i = 1; i < last.length; i++) if (last[i] > last[argmax]) argmax = i;
            String greedy = Sampler.generate(g, tok, prompt, 1, 0.0, 0);
            assertEquals(argmax, tok.encode(greedy)[prompt.length()]);
            String a = Sampler.generate(g, tok, "x", 12, 1.0, 5), b = Sampler.generate(g, tok, "x", 12, 1.0, 5);
            assertEquals(a, b, "same seed, same text");
            assertNotEquals(a, Sampler.generate(g, tok, "x", 12, 1.0, 6));
            assertTrue(a.startsWith("x"));
            assertThrows(IllegalArgumentException.class, () -> Sampler.generate(g, tok, "x", 3, -1, 0));
        }
    }
}
