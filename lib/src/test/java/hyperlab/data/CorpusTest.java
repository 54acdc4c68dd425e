package hyperlab.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
    @TempDir Path dir;

    @Test
    void anyTextFileTokenizesIntoATokenFile() throws Exception {
        Path txt = Files.writeString(dir.resolve("psalm.txt"), "The LORD is my shepherd; I shall not want.\n");
        Corpus c = Corpus.fromFile(txt);
        assertEquals("psalm", c.name());
        Tokenizer gpt2 = Tokenizer.of("gpt2");
        try (TokenFile t = c.tokenize(gpt2, dir.resolve("psalm.gpt2.bin"))) {
            int[] back = new int[(int) t.length()];
            for (int i = 0; i < back.length; i++) back[i] = t.get(i);
            assertArrayEquals(gpt2.encode(Files.readString(txt)), back);
        }
    }

    @Test
    void missingFilesAndAnUnfetchedDefaultSayWhatToDo() {
        var e = assertThrows(IllegalArgumentException.class, () -> Corpus.fromFile(dir.resolve("nope.txt")));
        assertTrue(e.getMessage().contains("nope.txt"), e.getMessage());
        String old = System.getProperty("hyperlab.home");
        System.setProperty("hyperlab.home", dir.toString());
        try {
            var s = assertThrows(IllegalStateException.class, Corpus::defaultText);
            assertTrue(s.getMessage().contains("bin/hyperlab setup"), s.getMessage());
        } finally {
            if (old == null) System.clearProperty("hyperlab.home");
            else System.setProperty("hyperlab.home", old);
        }
    }
}
