package hyperlab.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TokenizerTest {
    @Test
    void bytesAreTheUtf8EncodingAndRoundTrip() {
        Tokenizer t = Tokenizer.of("bytes");
        assertEquals(256, t.vocab());
        assertArrayEquals(new int[] {0x48, 0x69, 0xC3, 0xA9}, t.encode("Hié"));
        String s = "In the beginning — ἐν ἀρχῇ, 初め\n";
        assertEquals(s, t.decode(t.encode(s)));
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {256}));
    }

    @Test
    void gpt2MatchesTheKnownR50kIds() {
        Tokenizer t = Tokenizer.of("gpt2");
        assertEquals(50257, t.vocab());
        // GPT-2's published ids: "Hello" = 15496, " world" = 995
        assertArrayEquals(new int[] {15496, 995}, t.encode("Hello world"));
        String s = "And God said, Let there be light: and there was light. ✓ 初め";
        int[] ids = t.encode(s);
        assertTrue(ids.length < s.length(), "BPE merges characters");
        assertEquals(s, t.decode(ids));
    }

    @Test
    void unknownTokenizerNamesTheChoices() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.of("bpe"));
        assertTrue(e.getMessage().contains("bytes or gpt2"), e.getMessage());
    }
}
